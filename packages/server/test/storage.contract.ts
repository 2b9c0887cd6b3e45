/**
 * The storage contract: what every ChatStore must do, whatever database is behind it. Run it
 * against an implementation with `runStoreContract(name, makeStore)`; SQLite runs it today
 * (storage.test.ts) and a PostgreSQL store will run the very same suite. Only the ChatStore
 * interface is used here, never SQL or the file system.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { UniqueViolation, type ChatStore, type MessageWithAuthor, type NewMessage, type UserRecord } from '../src/storage/types.js';

export interface StoreFixture {
  /** A store on an empty database, not yet migrated. */
  store: ChatStore;
  /**
   * Close `store` and open the same database again (not migrated). Absent when the database
   * cannot outlive its connection (SQLite ':memory:'); the persistence test is then skipped.
   */
  reopen?: () => Promise<ChatStore>;
  /** Drop whatever the fixture created (temp files, schemas). Runs after the store is closed. */
  cleanup?: () => Promise<void>;
}

const T0 = Date.UTC(2030, 0, 1);
const hash = (seed: string) => createHash('sha256').update(seed).digest();

export function runStoreContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`ChatStore contract: ${name}`, () => {
    const open: { store: ChatStore; fixture: StoreFixture }[] = [];

    /** A migrated store on an empty database, closed after the test. */
    async function fresh(): Promise<{ store: ChatStore; fixture: StoreFixture }> {
      const fixture = await makeStore();
      await fixture.store.migrate();
      const entry = { store: fixture.store, fixture };
      open.push(entry);
      return entry;
    }

    afterEach(async () => {
      for (const { store, fixture } of open.splice(0)) {
        await store.close();
        await fixture.cleanup?.();
      }
    });

    let userCounter = 0;
    function newUser(store: ChatStore, overrides: Partial<{ username: string; email: string | null }> = {}): Promise<UserRecord> {
      userCounter++;
      return store.createUser({
        username: overrides.username ?? `user${userCounter}`,
        email: overrides.email === undefined ? null : overrides.email,
        passwordHash: `$2b$04$hash-of-user-${userCounter}`,
        createdAt: T0 + userCounter,
      });
    }

    const msg = (roomId: string, authorId: number, clientId: string, text = `text of ${clientId}`): NewMessage => ({
      roomId,
      authorId,
      clientId,
      text,
      createdAt: T0 + 1000,
    });

    function okMessages(results: Awaited<ReturnType<ChatStore['appendMessages']>>) {
      return results.map((r) => {
        assert.ok(r.ok, `expected ok, got ${JSON.stringify(r)}`);
        return r;
      });
    }

    describe('migrations', () => {
      test('migrate is idempotent and keeps data', async () => {
        const { store } = await fresh();
        await store.migrate();
        const user = await newUser(store, { username: 'keeper' });
        await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
        okMessages(await store.appendMessages([msg('general', user.id, 'c1')]));
        await store.migrate();
        await store.migrate();
        assert.deepEqual(await store.getUserById(user.id), user);
        assert.equal((await store.getRoom('general'))?.lastSeq, 1);
      });
    });

    describe('users', () => {
      test('createUser returns the stored record; getUserById finds it', async () => {
        const { store } = await fresh();
        const created = await store.createUser({ username: 'Alice', email: 'Alice@Example.com', passwordHash: '$2b$04$abc', createdAt: T0 });
        assert.equal(typeof created.id, 'number');
        assert.deepEqual(created, { id: created.id, username: 'Alice', email: 'Alice@Example.com', passwordHash: '$2b$04$abc', avatarKey: null, createdAt: T0 });
        assert.deepEqual(await store.getUserById(created.id), created);
        assert.equal(await store.getUserById(created.id + 1000), null);
        const other = await newUser(store);
        assert.notEqual(other.id, created.id);
      });

      test('a taken username, in any case, throws UniqueViolation("username")', async () => {
        const { store } = await fresh();
        await newUser(store, { username: 'Alice' });
        for (const username of ['Alice', 'alice', 'ALICE']) {
          await assert.rejects(newUser(store, { username }), (err: unknown) => err instanceof UniqueViolation && err.field === 'username');
        }
      });

      test('a taken email, in any case, throws UniqueViolation("email")', async () => {
        const { store } = await fresh();
        await newUser(store, { username: 'a1', email: 'Same@Example.com' });
        await assert.rejects(
          newUser(store, { username: 'a2', email: 'same@example.COM' }),
          (err: unknown) => err instanceof UniqueViolation && err.field === 'email',
        );
      });

      test('any number of users may have no email', async () => {
        const { store } = await fresh();
        await newUser(store, { email: null });
        await newUser(store, { email: null });
        await newUser(store, { email: null });
      });

      test('a refused user leaves nothing behind', async () => {
        const { store } = await fresh();
        const first = await newUser(store, { username: 'taken', email: 'one@example.com' });
        await assert.rejects(newUser(store, { username: 'TAKEN', email: 'two@example.com' }), UniqueViolation);
        assert.equal(await store.getUserByLogin({ email: 'two@example.com' }), null);
        assert.deepEqual(await store.getUserByLogin({ username: 'taken' }), first);
      });

      test('getUserByLogin matches username or email case-insensitively and keeps the stored spelling', async () => {
        const { store } = await fresh();
        const alice = await newUser(store, { username: 'AliceW', email: 'Alice@Example.com' });
        await newUser(store, { username: 'bob', email: 'bob@example.com' });
        for (const username of ['AliceW', 'alicew', 'ALICEW']) assert.deepEqual(await store.getUserByLogin({ username }), alice);
        for (const email of ['Alice@Example.com', 'alice@example.com', 'ALICE@EXAMPLE.COM']) assert.deepEqual(await store.getUserByLogin({ email }), alice);
        assert.equal(await store.getUserByLogin({ username: 'nobody' }), null);
        assert.equal(await store.getUserByLogin({ email: 'nobody@example.com' }), null);
        assert.equal(await store.getUserByLogin({ username: 'Alice@Example.com' }), null, 'a username lookup does not match emails');
        assert.equal(await store.getUserByLogin({ email: 'AliceW' }), null, 'an email lookup does not match usernames');
        assert.equal(await store.getUserByLogin({}), null);
        assert.equal(await store.getUserByLogin({ username: 'alice%' }), null, 'no pattern matching');
        assert.equal(await store.getUserByLogin({ username: 'alic_w' }), null, 'no pattern matching');
      });

      test('setPasswordHash and setAvatarKey update one user', async () => {
        const { store } = await fresh();
        const a = await newUser(store);
        const b = await newUser(store);
        await store.setPasswordHash(a.id, '$2b$04$new');
        await store.setAvatarKey(a.id, 'key-1');
        assert.deepEqual(await store.getUserById(a.id), { ...a, passwordHash: '$2b$04$new', avatarKey: 'key-1' });
        assert.deepEqual(await store.getUserById(b.id), b);
        await store.setAvatarKey(a.id, null);
        assert.equal((await store.getUserById(a.id))?.avatarKey, null);
      });
    });

    describe('sessions', () => {
      test('create, find by token hash (a copy of the bytes) and by id', async () => {
        const { store } = await fresh();
        const user = await newUser(store);
        const session = await store.createSession({ tokenHash: hash('t1'), userId: user.id, createdAt: T0, expiresAt: T0 + 5000 });
        assert.deepEqual(session, { id: session.id, userId: user.id, createdAt: T0, expiresAt: T0 + 5000, lastSeenAt: T0, device: '' });
        assert.deepEqual(await store.getSessionByTokenHash(Buffer.from(hash('t1'))), session);
        assert.deepEqual(await store.getSessionById(session.id), session);
        assert.equal(await store.getSessionByTokenHash(hash('t2')), null);
        assert.equal(await store.getSessionById(session.id + 1000), null);
      });

      test('extendSession moves the expiry; deleteSession removes only that session', async () => {
        const { store } = await fresh();
        const user = await newUser(store);
        const a = await store.createSession({ tokenHash: hash('a'), userId: user.id, createdAt: T0, expiresAt: T0 + 5000 });
        const b = await store.createSession({ tokenHash: hash('b'), userId: user.id, createdAt: T0, expiresAt: T0 + 5000 });
        await store.extendSession(a.id, T0 + 9000);
        assert.equal((await store.getSessionById(a.id))?.expiresAt, T0 + 9000);
        assert.equal((await store.getSessionById(b.id))?.expiresAt, T0 + 5000);
        await store.deleteSession(a.id);
        assert.equal(await store.getSessionByTokenHash(hash('a')), null);
        assert.deepEqual(await store.getSessionById(b.id), b);
        await store.deleteSession(a.id); // deleting twice is harmless
        await store.deleteSession(999_999);
      });

      test('deleteUserSessions deletes all of one user\'s sessions but the one kept, and returns their ids', async () => {
        const { store } = await fresh();
        const alice = await newUser(store);
        const bob = await newUser(store);
        const mk = (userId: number, seed: string) => store.createSession({ tokenHash: hash(seed), userId, createdAt: T0, expiresAt: T0 + 5000 });
        const [a1, a2, a3] = [await mk(alice.id, 'a1'), await mk(alice.id, 'a2'), await mk(alice.id, 'a3')];
        const b1 = await mk(bob.id, 'b1');

        const deleted = await store.deleteUserSessions(alice.id, a2.id);
        assert.deepEqual([...deleted].sort((x, y) => x - y), [a1.id, a3.id].sort((x, y) => x - y));
        assert.equal(await store.getSessionById(a1.id), null);
        assert.equal(await store.getSessionById(a3.id), null);
        assert.deepEqual(await store.getSessionById(a2.id), a2);
        assert.deepEqual(await store.getSessionById(b1.id), b1, "another user's sessions are untouched");

        assert.deepEqual(await store.deleteUserSessions(alice.id), [a2.id], 'without an exception, all of them');
        assert.deepEqual(await store.deleteUserSessions(alice.id), []);
        assert.deepEqual(await store.getSessionById(b1.id), b1);
      });

      test('purgeExpiredSessions deletes those that expired before now and counts them', async () => {
        const { store } = await fresh();
        const user = await newUser(store);
        const mk = (seed: string, expiresAt: number) => store.createSession({ tokenHash: hash(seed), userId: user.id, createdAt: T0, expiresAt });
        const old1 = await mk('old1', T0 + 100);
        const old2 = await mk('old2', T0 + 999);
        const boundary = await mk('boundary', T0 + 1000);
        const live = await mk('live', T0 + 5000);
        assert.equal(await store.purgeExpiredSessions(T0 + 1000), 2);
        assert.equal(await store.getSessionById(old1.id), null);
        assert.equal(await store.getSessionById(old2.id), null);
        assert.deepEqual(await store.getSessionById(boundary.id), boundary, 'expiring exactly now is not "before now"');
        assert.deepEqual(await store.getSessionById(live.id), live);
        assert.equal(await store.purgeExpiredSessions(T0 + 1000), 0);
      });

      test('a session keeps its device; extendSession with a time also moves lastSeenAt, without one leaves it', async () => {
        const { store } = await fresh();
        const user = await newUser(store);
        const s = await store.createSession({ tokenHash: hash('dev'), userId: user.id, createdAt: T0, expiresAt: T0 + 5000, device: 'Firefox on Linux' });
        assert.equal(s.device, 'Firefox on Linux');
        assert.equal(s.lastSeenAt, T0);
        await store.extendSession(s.id, T0 + 9000, T0 + 4000);
        assert.deepEqual(await store.getSessionById(s.id), { ...s, expiresAt: T0 + 9000, lastSeenAt: T0 + 4000 });
        await store.extendSession(s.id, T0 + 9500);
        assert.deepEqual(await store.getSessionById(s.id), { ...s, expiresAt: T0 + 9500, lastSeenAt: T0 + 4000 });
      });

      test('listUserSessions lists one user\'s sessions, most recently seen first', async () => {
        const { store } = await fresh();
        const alice = await newUser(store);
        const bob = await newUser(store);
        const mk = (userId: number, seed: string, createdAt: number) => store.createSession({ tokenHash: hash(seed), userId, createdAt, expiresAt: T0 + 50_000 });
        const a1 = await mk(alice.id, 'l-a1', T0);
        const a2 = await mk(alice.id, 'l-a2', T0 + 10);
        const a3 = await mk(alice.id, 'l-a3', T0 + 20);
        await mk(bob.id, 'l-b1', T0 + 30);
        await store.extendSession(a1.id, T0 + 60_000, T0 + 100);
        const listed = await store.listUserSessions(alice.id);
        assert.deepEqual(listed.map((x) => x.id), [a1.id, a3.id, a2.id]);
        assert.equal(listed[0]!.lastSeenAt, T0 + 100);
        assert.deepEqual(await store.listUserSessions(999_999), []);
      });

      test('deleteUserSession deletes only a session of that user', async () => {
        const { store } = await fresh();
        const alice = await newUser(store);
        const bob = await newUser(store);
        const a = await store.createSession({ tokenHash: hash('d-a'), userId: alice.id, createdAt: T0, expiresAt: T0 + 5000 });
        const b = await store.createSession({ tokenHash: hash('d-b'), userId: bob.id, createdAt: T0, expiresAt: T0 + 5000 });
        assert.equal(await store.deleteUserSession(alice.id, b.id), false, "not alice's");
        assert.deepEqual(await store.getSessionById(b.id), b);
        assert.equal(await store.deleteUserSession(alice.id, a.id), true);
        assert.equal(await store.getSessionById(a.id), null);
        assert.equal(await store.deleteUserSession(alice.id, a.id), false, 'already gone');
      });
    });

    describe('login devices', () => {
      test('create, find by hash (a copy of the bytes), delete; purgeExpiredSessions purges expired ones', async () => {
        const { store } = await fresh();
        const user = await newUser(store);
        await store.createLoginDevice({ tokenHash: hash('device-1'), userId: user.id, createdAt: T0, expiresAt: T0 + 5000 });
        await store.createLoginDevice({ tokenHash: hash('device-2'), userId: user.id, createdAt: T0, expiresAt: T0 + 500 });
        assert.deepEqual(await store.getLoginDevice(Buffer.from(hash('device-1'))), { userId: user.id, createdAt: T0, expiresAt: T0 + 5000 });
        assert.equal(await store.getLoginDevice(hash('device-3')), null);
        await store.purgeExpiredSessions(T0 + 1000);
        assert.equal(await store.getLoginDevice(hash('device-2')), null, 'expired: purged');
        assert.ok(await store.getLoginDevice(hash('device-1')));
        await store.deleteLoginDevice(hash('device-1'));
        assert.equal(await store.getLoginDevice(hash('device-1')), null);
        await store.deleteLoginDevice(hash('device-1')); // deleting twice is harmless
      });
    });

    describe('rooms', () => {
      test('ensureRoom creates once and then returns the existing room unchanged', async () => {
        const { store } = await fresh();
        const created = await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
        assert.deepEqual(created, { id: 'general', name: 'general', lastSeq: 0, createdAt: T0 });
        const user = await newUser(store);
        okMessages(await store.appendMessages([msg('general', user.id, 'x')]));
        const again = await store.ensureRoom({ id: 'general', name: 'Renamed', createdAt: T0 + 5 });
        assert.deepEqual(again, { id: 'general', name: 'general', lastSeq: 1, createdAt: T0 });
        assert.deepEqual(await store.getRoom('general'), again);
        assert.equal(await store.getRoom('nope'), null);
      });

      test('listRooms lists every room once, with its lastSeq', async () => {
        const { store } = await fresh();
        assert.deepEqual(await store.listRooms(), []);
        await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
        await store.ensureRoom({ id: 'random', name: 'Random', createdAt: T0 + 1 });
        await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
        const user = await newUser(store);
        okMessages(await store.appendMessages([msg('random', user.id, 'r1'), msg('random', user.id, 'r2')]));
        const rooms = await store.listRooms();
        assert.deepEqual(
          [...rooms].sort((a, b) => a.id.localeCompare(b.id)),
          [
            { id: 'general', name: 'general', lastSeq: 0, createdAt: T0 },
            { id: 'random', name: 'Random', lastSeq: 2, createdAt: T0 + 1 },
          ],
        );
      });
    });

    describe('appendMessages', () => {
      async function withRooms() {
        const { store } = await fresh();
        await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
        await store.ensureRoom({ id: 'random', name: 'random', createdAt: T0 });
        const alice = await newUser(store);
        const bob = await newUser(store);
        return { store, alice, bob };
      }

      test('an empty batch stores nothing', async () => {
        const { store } = await withRooms();
        assert.deepEqual(await store.appendMessages([]), []);
        assert.equal((await store.getRoom('general'))?.lastSeq, 0);
      });

      test('one batch gets consecutive seqs in order, the next batch continues, and lastSeq follows', async () => {
        const { store, alice, bob } = await withRooms();
        const first = okMessages(await store.appendMessages([msg('general', alice.id, 'a1'), msg('general', bob.id, 'b1'), msg('general', alice.id, 'a2')]));
        assert.deepEqual(first.map((r) => r.message.seq), [1, 2, 3]);
        assert.ok(first.every((r) => r.duplicate === false));
        assert.deepEqual(first[1]!.message, { id: first[1]!.message.id, ...msg('general', bob.id, 'b1'), seq: 2 });
        assert.equal(new Set(first.map((r) => r.message.id)).size, 3, 'distinct ids');
        const second = okMessages(await store.appendMessages([msg('general', bob.id, 'b2'), msg('general', bob.id, 'b3')]));
        assert.deepEqual(second.map((r) => r.message.seq), [4, 5]);
        assert.equal((await store.getRoom('general'))?.lastSeq, 5);
      });

      test('each room has its own sequence, also when interleaved in one batch', async () => {
        const { store, alice } = await withRooms();
        const results = okMessages(
          await store.appendMessages([msg('general', alice.id, 'g1'), msg('random', alice.id, 'r1'), msg('general', alice.id, 'g2'), msg('random', alice.id, 'r2'), msg('random', alice.id, 'r3')]),
        );
        assert.deepEqual(results.map((r) => [r.message.roomId, r.message.seq]), [['general', 1], ['random', 1], ['general', 2], ['random', 2], ['random', 3]]);
        assert.equal(new Set(results.map((r) => r.message.id)).size, 5, 'ids are unique across rooms');
        assert.equal((await store.getRoom('general'))?.lastSeq, 2);
        assert.equal((await store.getRoom('random'))?.lastSeq, 3);
      });

      test('concurrent batches never share or skip a seq', async () => {
        const { store, alice, bob } = await withRooms();
        const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 5 }, (_, i) => msg('general', b % 2 ? alice.id : bob.id, `c${b}-${i}`)));
        const results = (await Promise.all(batches.map((batch) => store.appendMessages(batch)))).flat();
        const seqs = okMessages(results).map((r) => r.message.seq).sort((a, b) => a - b);
        assert.deepEqual(seqs, Array.from({ length: 40 }, (_, i) => i + 1));
        // Within each batch the order is kept.
        for (let b = 0; b < batches.length; b++) {
          const own = results.slice(b * 5, b * 5 + 5).map((r) => (r.ok ? r.message.seq : -1));
          assert.deepEqual(own, [...own].sort((x, y) => x - y));
        }
      });

      test('a resent (authorId, clientId) returns the original with duplicate:true and consumes no seq', async () => {
        const { store, alice, bob } = await withRooms();
        const [original] = okMessages(await store.appendMessages([msg('general', alice.id, 'same', 'first text')]));
        const [again, next] = okMessages(await store.appendMessages([msg('general', alice.id, 'same', 'edited text'), msg('general', alice.id, 'other')]));
        assert.equal(again!.duplicate, true);
        assert.deepEqual(again!.message, original!.message, 'the original, text included');
        assert.equal(next!.message.seq, 2, 'the duplicate consumed no seq');
        // The same clientId from another author is a different message.
        const [bobs] = okMessages(await store.appendMessages([msg('general', bob.id, 'same')]));
        assert.equal(bobs!.duplicate, false);
        assert.equal(bobs!.message.seq, 3);
        assert.equal((await store.getRoom('general'))?.lastSeq, 3);
        const page = await store.getMessages('general', { limit: 10 });
        assert.deepEqual(page.messages.map((m) => m.clientId), ['same', 'other', 'same']);
      });

      test('a duplicate within one batch is stored once', async () => {
        const { store, alice } = await withRooms();
        const [a, b, c] = okMessages(await store.appendMessages([msg('general', alice.id, 'dup'), msg('general', alice.id, 'dup'), msg('general', alice.id, 'after')]));
        assert.equal(a!.duplicate, false);
        assert.equal(b!.duplicate, true);
        assert.deepEqual(b!.message, a!.message);
        assert.equal(c!.message.seq, 2);
        assert.equal((await store.getMessages('general', { limit: 10 })).messages.length, 2);
      });

      test('an unknown room is refused without consuming a seq, and the rest of the batch is stored', async () => {
        const { store, alice } = await withRooms();
        const results = await store.appendMessages([msg('general', alice.id, 'g1'), msg('nowhere', alice.id, 'n1'), msg('general', alice.id, 'g2')]);
        assert.deepEqual(results[1], { ok: false, error: 'room_not_found' });
        assert.deepEqual(okMessages([results[0]!, results[2]!]).map((r) => r.message.seq), [1, 2]);
        assert.equal(await store.getRoom('nowhere'), null, 'no room was created');
        assert.equal((await store.getRoom('general'))?.lastSeq, 2);
        // The refused clientId is free for a real message later.
        const [later] = okMessages(await store.appendMessages([msg('general', alice.id, 'n1')]));
        assert.equal(later!.duplicate, false);
        assert.equal(later!.message.seq, 3);
      });
    });

    describe('getMessages', () => {
      async function seeded(count: number) {
        const { store } = await fresh();
        await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
        await store.ensureRoom({ id: 'empty', name: 'empty', createdAt: T0 });
        const alice = await newUser(store, { username: 'Alice' });
        const bob = await newUser(store, { username: 'bob' });
        okMessages(await store.appendMessages(Array.from({ length: count }, (_, i) => msg('general', i % 2 ? bob.id : alice.id, `m${i + 1}`, `text ${i + 1}`))));
        return { store, alice, bob };
      }
      const seqs = (messages: MessageWithAuthor[]) => messages.map((m) => m.seq);
      const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

      test('messages come with their author, oldest first', async () => {
        const { store, alice, bob } = await seeded(3);
        const page = await store.getMessages('general', { limit: 10 });
        assert.equal(page.hasMore, false);
        assert.deepEqual(page.messages[0], {
          id: page.messages[0]!.id,
          roomId: 'general',
          seq: 1,
          authorId: alice.id,
          clientId: 'm1',
          text: 'text 1',
          createdAt: T0 + 1000,
          authorUsername: 'Alice',
          authorAvatarKey: null,
        });
        assert.equal(page.messages[1]!.authorId, bob.id);
        assert.equal(page.messages[1]!.authorUsername, 'bob');
        assert.deepEqual(seqs(page.messages), [1, 2, 3]);
      });

      test('the author fields reflect the user as they are now', async () => {
        const { store, alice } = await seeded(2);
        await store.setAvatarKey(alice.id, 'new-avatar');
        const page = await store.getMessages('general', { limit: 10 });
        assert.equal(page.messages[0]!.authorAvatarKey, 'new-avatar');
        assert.equal(page.messages[1]!.authorAvatarKey, null);
      });

      test('without a cursor: the newest `limit`, hasMore when older ones exist', async () => {
        const { store } = await seeded(10);
        let page = await store.getMessages('general', { limit: 3 });
        assert.deepEqual(seqs(page.messages), [8, 9, 10]);
        assert.equal(page.hasMore, true);
        page = await store.getMessages('general', { limit: 9 });
        assert.deepEqual(seqs(page.messages), range(2, 10));
        assert.equal(page.hasMore, true);
        page = await store.getMessages('general', { limit: 10 });
        assert.deepEqual(seqs(page.messages), range(1, 10));
        assert.equal(page.hasMore, false, 'exactly all: nothing older');
        page = await store.getMessages('general', { limit: 50 });
        assert.deepEqual(seqs(page.messages), range(1, 10));
        assert.equal(page.hasMore, false);
      });

      test('before: the newest `limit` below the cursor', async () => {
        const { store } = await seeded(10);
        const cases: [number, number, number[], boolean][] = [
          [5, 3, [2, 3, 4], true],
          [4, 3, [1, 2, 3], false],
          [2, 3, [1], false],
          [1, 3, [], false],
          [11, 3, [8, 9, 10], true],
          [1000, 20, range(1, 10), false],
        ];
        for (const [before, limit, expected, hasMore] of cases) {
          const page = await store.getMessages('general', { before, limit });
          assert.deepEqual(seqs(page.messages), expected, `before=${before} limit=${limit}`);
          assert.equal(page.hasMore, hasMore, `hasMore for before=${before} limit=${limit}`);
        }
      });

      test('after: the oldest `limit` above the cursor, hasMore when newer ones exist', async () => {
        const { store } = await seeded(10);
        const cases: [number, number, number[], boolean][] = [
          [0, 3, [1, 2, 3], true],
          [6, 3, [7, 8, 9], true],
          [7, 3, [8, 9, 10], false],
          [9, 3, [10], false],
          [10, 3, [], false],
          [50, 3, [], false],
        ];
        for (const [after, limit, expected, hasMore] of cases) {
          const page = await store.getMessages('general', { after, limit });
          assert.deepEqual(seqs(page.messages), expected, `after=${after} limit=${limit}`);
          assert.equal(page.hasMore, hasMore, `hasMore for after=${after} limit=${limit}`);
        }
      });

      test('after and before together: the window between them, from its oldest end', async () => {
        const { store } = await seeded(10);
        let page = await store.getMessages('general', { after: 2, before: 6, limit: 10 });
        assert.deepEqual(seqs(page.messages), [3, 4, 5]);
        assert.equal(page.hasMore, false);
        page = await store.getMessages('general', { after: 2, before: 6, limit: 2 });
        assert.deepEqual(seqs(page.messages), [3, 4]);
        assert.equal(page.hasMore, true);
        page = await store.getMessages('general', { after: 2, before: 6, limit: 3 });
        assert.deepEqual(seqs(page.messages), [3, 4, 5]);
        assert.equal(page.hasMore, false, 'the window is exhausted');
        page = await store.getMessages('general', { after: 5, before: 6, limit: 3 });
        assert.deepEqual(page.messages, []);
      });

      test('an empty or unknown room has no messages, and rooms do not leak into each other', async () => {
        const { store } = await seeded(4);
        assert.deepEqual(await store.getMessages('empty', { limit: 10 }), { messages: [], hasMore: false });
        assert.deepEqual(await store.getMessages('empty', { after: 0, limit: 10 }), { messages: [], hasMore: false });
        assert.deepEqual(await store.getMessages('nope', { limit: 10 }), { messages: [], hasMore: false });
      });
    });

    test('everything survives closing and reopening the database', async (t) => {
      const fixture = await makeStore();
      if (!fixture.reopen) {
        await fixture.cleanup?.();
        t.skip('this store cannot be reopened');
        return;
      }
      let store = fixture.store;
      try {
        await store.migrate();
        await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
        const user = await store.createUser({ username: 'Durable', email: 'd@example.com', passwordHash: '$2b$04$x', createdAt: T0 });
        const session = await store.createSession({ tokenHash: hash('durable'), userId: user.id, createdAt: T0, expiresAt: T0 + 5000 });
        const stored = okMessages(await store.appendMessages([msg('general', user.id, 'd1'), msg('general', user.id, 'd2')]));

        store = await fixture.reopen();
        await store.migrate();
        assert.deepEqual(await store.getUserByLogin({ username: 'durable' }), user);
        assert.deepEqual(await store.getSessionByTokenHash(hash('durable')), session);
        assert.deepEqual(await store.getRoom('general'), { id: 'general', name: 'general', lastSeq: 2, createdAt: T0 });
        const page = await store.getMessages('general', { limit: 10 });
        assert.deepEqual(page.messages.map(({ authorUsername, authorAvatarKey, ...m }) => m), stored.map((r) => r.message));
        const [again, next] = okMessages(await store.appendMessages([msg('general', user.id, 'd2'), msg('general', user.id, 'd3')]));
        assert.equal(again!.duplicate, true, 'idempotency survives a restart');
        assert.equal(next!.message.seq, 3, 'the sequence continues where it was');
        await assert.rejects(store.createUser({ username: 'DURABLE', email: null, passwordHash: 'x', createdAt: T0 }), UniqueViolation);
      } finally {
        await store.close();
        await fixture.cleanup?.();
      }
    });
  });
}
