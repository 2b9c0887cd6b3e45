import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { MIGRATIONS, SqliteStore } from '../src/storage/sqlite.js';
import { runStoreContract } from './storage.contract.js';

runStoreContract('SQLite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatter-store-'));
  const file = join(dir, 'chatter.db');
  let current = new SqliteStore({ file });
  return {
    store: current,
    async reopen() {
      await current.close();
      current = new SqliteStore({ file });
      return current;
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

runStoreContract('SQLite :memory:', async () => ({ store: new SqliteStore({ file: ':memory:' }) }));

// What the contract cannot say because it is SQLite's own business.
describe('SqliteStore specifics', () => {
  test('creates missing parent folders, uses WAL, and records the schema version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatter-store-'));
    try {
      const file = join(dir, 'nested', 'deeper', 'chatter.db');
      const store = new SqliteStore({ file, synchronous: 'normal' });
      await store.migrate();
      await store.close();
      const db = new Database(file, { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        assert.ok((db.pragma('user_version', { simple: true }) as number) >= 1);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a database from before session devices migrates: its sessions keep working, last seen at sign-in, device unknown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatter-store-'));
    try {
      const file = join(dir, 'chatter.db');
      const old = new Database(file);
      old.exec(MIGRATIONS[0]!);
      old.pragma('user_version = 1');
      old.prepare("INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (1, 'Old', 'old', 'x', 1)").run();
      old.prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, 1, 1000, 9000)').run(Buffer.alloc(32, 7));
      old.close();
      const store = new SqliteStore({ file });
      await store.migrate();
      const session = await store.getSessionByTokenHash(Buffer.alloc(32, 7));
      assert.deepEqual(session, { id: session!.id, userId: 1, createdAt: 1000, expiresAt: 9000, lastSeenAt: 1000, device: '' });
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('close is idempotent', async () => {
    const store = new SqliteStore({ file: ':memory:' });
    await store.migrate();
    await store.close();
    await store.close();
  });
});
