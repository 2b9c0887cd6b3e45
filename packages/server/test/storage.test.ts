import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

  test('a database from before reaction runs migrates: each emoji keeps the place its oldest reaction gave it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatter-store-'));
    try {
      const file = join(dir, 'chatter.db');
      const old = new Database(file);
      const before = MIGRATIONS.length - 1;
      for (const sql of MIGRATIONS.slice(0, before)) old.exec(sql);
      old.pragma(`user_version = ${before}`);
      old.exec(`
        INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (1, 'Ana', 'ana', 'x', 100), (2, 'ben', 'ben', 'x', 200);
        INSERT INTO rooms (id, name, last_seq, created_at) VALUES ('general', 'general', 1, 50);
        INSERT INTO members (room_id, user_id, role, joined_at, read_seq) VALUES ('general', 1, 'member', 100, 0), ('general', 2, 'member', 200, 0);
        INSERT INTO messages (id, room_id, seq, author_id, client_id, text, created_at, version) VALUES (10, 'general', 1, 1, 'a1', 'hi', 1000, 1);
        INSERT INTO reactions (id, message_id, emoji, user_id, created_at) VALUES (1, 10, '🎉', 1, 1), (2, 10, '👍', 2, 2), (3, 10, '🎉', 2, 3), (4, 10, '❤️', 1, 4);
      `);
      old.close();
      const store = new SqliteStore({ file });
      try {
        await store.migrate();
        assert.deepEqual((await store.getMessage('general', 10))?.reactions, [
          { emoji: '🎉', count: 2, users: [1, 2] },
          { emoji: '👍', count: 1, users: [2] },
          { emoji: '❤️', count: 1, users: [1] },
        ]);
        // A new emoji after the migration goes last.
        const [added] = await store.applyChanges([{ kind: 'reaction_added', roomId: 'general', actorId: 2, clientId: 'r1', at: 5, messageId: 10, emoji: '😀' }]);
        assert.ok(added?.ok, JSON.stringify(added));
        assert.deepEqual((await store.getMessage('general', 10))?.reactions.map((r) => r.emoji), ['🎉', '👍', '❤️', '😀']);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a version-3 database migrates: a stored notify "all" (the old default) becomes unset, other levels stay chosen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatter-store-'));
    try {
      const file = join(dir, 'chatter.db');
      const old = new Database(file);
      for (const sql of MIGRATIONS.slice(0, 3)) old.exec(sql);
      old.pragma('user_version = 3');
      old.exec(`
        INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (1, 'Ana', 'ana', 'x', 100), (2, 'ben', 'ben', 'x', 200), (3, 'cy', 'cy', 'x', 300);
        INSERT INTO rooms (id, name, created_at) VALUES ('general', 'general', 50);
        INSERT INTO members (room_id, user_id, role, joined_at, read_seq, notify) VALUES
          ('general', 1, 'member', 100, 0, 'all'), ('general', 2, 'member', 200, 0, 'mentions'), ('general', 3, 'member', 300, 0, 'none');
      `);
      old.close();
      const store = new SqliteStore({ file });
      try {
        await store.migrate();
        assert.deepEqual(
          await Promise.all([1, 2, 3].map(async (id) => (await store.getMember('general', id))?.notify)),
          [null, 'mentions', 'none'],
        );
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a version-2 database migrates: rooms become public channels, everyone a member who has read it all, every message its event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatter-store-'));
    try {
      const file = join(dir, 'chatter.db');
      const old = new Database(file);
      for (const sql of MIGRATIONS.slice(0, 2)) old.exec(sql);
      old.pragma('user_version = 2');
      old.exec(`
        INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (1, 'Ana', 'ana', 'x', 100), (2, 'ben', 'ben', 'x', 200);
        INSERT INTO rooms (id, name, last_seq, created_at) VALUES ('general', 'general', 3, 50), ('quiet', 'quiet', 0, 60);
        INSERT INTO messages (id, room_id, seq, author_id, client_id, text, created_at) VALUES
          (10, 'general', 1, 1, 'a1', 'hello', 1000), (11, 'general', 2, 2, 'b1', 'hi @Ana', 2000), (12, 'general', 3, 1, 'a2', 'bye', 3000);
      `);
      old.prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, 1, 1000, 9000)').run(Buffer.alloc(32, 7));
      old.close();

      const store = new SqliteStore({ file });
      try {
        await store.migrate();
        assert.deepEqual(await store.getRoom('general'), {
          id: 'general',
          kind: 'channel',
          name: 'general',
          topic: '',
          visibility: 'public',
          archived: false,
          lastSeq: 3,
          createdAt: 50,
          createdBy: null,
          dmKey: null,
          memberCount: 2,
          lastActivityAt: 3000,
        });
        assert.equal((await store.getRoom('quiet'))?.lastActivityAt, 60, 'no messages: its creation time');
        assert.deepEqual(await store.getMember('general', 2), { roomId: 'general', userId: 2, role: 'member', joinedAt: 200, readSeq: 3, notify: null });
        // Protocol 1 kept no read state: nothing is unread after the upgrade.
        assert.deepEqual((await store.listUserRooms(1, 999)).map((r) => [r.room.id, r.unread, r.mentions]), [['general', 0, 0], ['quiet', 0, 0]]);
        const page = await store.getMessages('general', { limit: 10 });
        assert.equal(page.lastSeq, 3);
        assert.deepEqual(
          page.messages.map((m) => [m.id, m.seq, m.version, m.text, m.editedAt, m.deletedAt, m.mentions, m.reactions]),
          [
            [10, 1, 1, 'hello', null, null, [], []],
            [11, 2, 2, 'hi @Ana', null, null, [], []],
            [12, 3, 3, 'bye', null, null, [], []],
          ],
        );
        const { events } = await store.getEvents('general', { after: 0, limit: 10 });
        assert.deepEqual(
          events.map((e) => [e.seq, e.kind, e.actorId, e.clientId, e.createdAt, e.messageId, e.message?.text]),
          [
            [1, 'message_created', 1, 'a1', 1000, 10, 'hello'],
            [2, 'message_created', 2, 'b1', 2000, 11, 'hi @Ana'],
            [3, 'message_created', 1, 'a2', 3000, 12, 'bye'],
          ],
        );
        // Old messages are idempotent as before, and the log goes on from their seqs.
        const [resent, fresh] = await store.applyChanges([
          { kind: 'message_created', roomId: 'general', actorId: 2, clientId: 'b1', at: 4000, text: 'hi @Ana', mentions: [] },
          { kind: 'message_created', roomId: 'general', actorId: 2, clientId: 'b2', at: 5000, text: 'new', mentions: [1] },
        ]);
        assert.ok(resent?.ok && resent.duplicate && resent.message?.id === 11);
        assert.ok(fresh?.ok && fresh.event?.seq === 4);
        assert.deepEqual((await store.getUserRoom(1, 'general', 999))?.mentions, 1);
        assert.equal((await store.getSessionByTokenHash(Buffer.alloc(32, 7)))?.userId, 1);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a deleted message's text is gone from the database files, not only hidden", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatter-store-'));
    const file = join(dir, 'chatter.db');
    const store = new SqliteStore({ file });
    try {
      await store.migrate();
      await store.ensureRoom({ id: 'general', name: 'general', createdAt: 1 });
      const user = await store.createUser({ username: 'ana', email: null, passwordHash: 'x', createdAt: 1 });
      // A short text lives in a cell of a page; a long one spills onto overflow pages.
      const short = 'zq-short-secret-7f3a';
      const long = `zq-long-secret-${'9c1e'.repeat(1500)}`;
      const results = await store.applyChanges([
        { kind: 'member_joined', roomId: 'general', actorId: user.id, clientId: null, at: 2, userId: user.id, role: 'member' },
        { kind: 'message_created', roomId: 'general', actorId: user.id, clientId: 's', at: 3, text: short, mentions: [] },
        { kind: 'message_created', roomId: 'general', actorId: user.id, clientId: 'l', at: 3, text: long, mentions: [] },
        { kind: 'message_created', roomId: 'general', actorId: user.id, clientId: 'k', at: 3, text: 'kept text', mentions: [] },
      ]);
      const ids = results.map((r) => (r.ok ? r.message?.id : undefined));
      const stored = () => {
        const bytes = Buffer.concat([file, `${file}-wal`].map((f) => {
          try {
            return readFileSync(f);
          } catch {
            return Buffer.alloc(0);
          }
        }));
        return { short: bytes.includes(short), long: bytes.includes(long.slice(0, 200)), kept: bytes.includes('kept text') };
      };
      assert.deepEqual(stored(), { short: true, long: true, kept: true }, 'the texts are in the files to begin with');
      const deleted = await store.applyChanges([
        { kind: 'message_deleted', roomId: 'general', actorId: user.id, clientId: null, at: 4, messageId: ids[1]! },
        { kind: 'message_deleted', roomId: 'general', actorId: user.id, clientId: null, at: 4, messageId: ids[2]! },
      ]);
      assert.ok(deleted.every((r) => r.ok && r.event));
      assert.deepEqual(stored(), { short: false, long: false, kept: true });
    } finally {
      await store.close();
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
