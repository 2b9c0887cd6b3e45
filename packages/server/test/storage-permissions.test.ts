import { DEFAULT_ROOM } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SqliteStore } from '../src/storage/sqlite.js';
import { startTestServer } from '../src/testing.js';
import { uniqueName } from './wsclient.js';

/* The database holds password and token hashes: its folder and files are the server user's alone. */

const mode = (path: string) => statSync(path).mode & 0o777;
const root = mkdtempSync(join(tmpdir(), 'chatter-perm-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('a fresh data dir is created 0700, and the database, -wal and -shm files 0600', async () => {
  const dataDir = join(root, 'fresh', 'data');
  const server = await startTestServer({ dataDir, dbFile: join(dataDir, 'chatter.db') });
  try {
    const alice = await server.register(uniqueName('alice'));
    // A committed write, so the WAL and its index exist.
    await server.app.conversations.send({ id: alice.user.id, username: alice.username, avatarUrl: null }, DEFAULT_ROOM, 'perm-1', 'hello');
    assert.equal(mode(dataDir).toString(8), '700');
    for (const file of ['chatter.db', 'chatter.db-wal', 'chatter.db-shm']) {
      assert.ok(existsSync(join(dataDir, file)), file);
      assert.equal(mode(join(dataDir, file)).toString(8), '600', file);
    }
  } finally {
    await server.close();
  }
});

test('files an older version left readable by others are tightened on open', async () => {
  const dir = join(root, 'old');
  const file = join(dir, 'chatter.db');
  const first = new SqliteStore({ file });
  await first.migrate();
  await first.close();
  chmodSync(file, 0o644);
  writeFileSync(`${file}-wal`, '');
  chmodSync(`${file}-wal`, 0o644);
  const again = new SqliteStore({ file });
  try {
    await again.migrate();
    assert.equal(mode(file).toString(8), '600');
    assert.equal(mode(`${file}-wal`).toString(8), '600');
  } finally {
    await again.close();
  }
});
