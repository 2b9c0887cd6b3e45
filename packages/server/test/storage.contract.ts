/**
 * The storage contract: what every ChatStore must do, whatever database is behind it. Run it
 * against an implementation with `runStoreContract(name, makeStore)`; SQLite runs it today
 * (storage.test.ts) and a PostgreSQL store will run the very same suite. Only the ChatStore
 * interface is used here, never SQL or the file system.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { LIMITS } from '@chatter/protocol';
import {
  UniqueViolation,
  type ChangeResult,
  type ChatStore,
  type MessageWithAuthor,
  type NewRoom,
  type Role,
  type RoomChange,
  type UserRecord,
} from '../src/storage/types.js';

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
type Ok = Extract<ChangeResult, { ok: true }>;

/** A message sent to a room: the author must be a member. */
const send = (roomId: string, actorId: number, clientId: string | null, text = `text of ${clientId}`, mentions: number[] = [], at = T0 + 1000): RoomChange => ({
  kind: 'message_created',
  roomId,
  actorId,
  clientId,
  at,
  text,
  mentions,
});
const join = (roomId: string, userId: number, role: Role = 'member', at = T0 + 500): RoomChange => ({
  kind: 'member_joined',
  roomId,
  actorId: userId,
  clientId: null,
  at,
  userId,
  role,
});

function allOk(results: ChangeResult[]): Ok[] {
  return results.map((r) => {
    assert.ok(r.ok, `expected ok, got ${JSON.stringify(r)}`);
    return r;
  });
}

/** Apply one change and expect it to have produced a new event. */
async function applied(store: ChatStore, change: RoomChange): Promise<Ok & { event: NonNullable<Ok['event']> }> {
  const [r] = allOk(await store.applyChanges([change]));
  assert.ok(r!.event, `expected an event for ${change.kind}`);
  assert.equal(r!.duplicate, false);
  return r as Ok & { event: NonNullable<Ok['event']> };
}

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

    describe('migrations', () => {
      test('migrate is idempotent and keeps data', async () => {
        const { store } = await fresh();
        await store.migrate();
        const user = await newUser(store, { username: 'keeper' });
        await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
        allOk(await store.applyChanges([join('general', user.id), send('general', user.id, 'c1')]));
        await store.migrate();
        await store.migrate();
        assert.deepEqual(await store.getUserById(user.id), user);
        assert.equal((await store.getRoom('general'))?.lastSeq, 2);
        assert.equal((await store.getMessages('general', { limit: 10 })).messages.length, 1);
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

    /** A store with `general` and `random`, alice and bob members of both. */
    async function withRooms() {
      const { store } = await fresh();
      await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
      await store.ensureRoom({ id: 'random', name: 'random', createdAt: T0 });
      const alice = await newUser(store);
      const bob = await newUser(store);
      allOk(await store.applyChanges([join('general', alice.id), join('general', bob.id), join('random', alice.id), join('random', bob.id)]));
      /** The seq the next change to the room gets (joins took the first ones). */
      const next = async (roomId = 'general') => (await store.getRoom(roomId))!.lastSeq + 1;
      return { store, alice, bob, next };
    }

    const newRoom = (over: Partial<NewRoom> & Pick<NewRoom, 'id' | 'createdBy' | 'members'>): NewRoom => ({
      kind: 'channel',
      name: `Room ${over.id}`,
      topic: '',
      visibility: 'public',
      clientId: null,
      dmKey: null,
      at: T0 + 100,
      ...over,
    });

    describe('rooms', () => {
      test('ensureRoom creates a public channel once, with no events, and then returns it unchanged', async () => {
        const { store } = await fresh();
        const created = await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
        assert.deepEqual(created, {
          id: 'general',
          kind: 'channel',
          name: 'general',
          topic: '',
          visibility: 'public',
          archived: false,
          lastSeq: 0,
          createdAt: T0,
          createdBy: null,
          dmKey: null,
          memberCount: 0,
          lastActivityAt: T0,
        });
        const user = await newUser(store);
        allOk(await store.applyChanges([join('general', user.id), send('general', user.id, 'x')]));
        const again = await store.ensureRoom({ id: 'general', name: 'Renamed', createdAt: T0 + 5 });
        assert.deepEqual(again, { ...created, lastSeq: 2, memberCount: 1, lastActivityAt: T0 + 1000 });
        assert.deepEqual(await store.getRoom('general'), again);
        assert.equal(await store.getRoom('nope'), null);
      });

      test('createRoom writes room_created, member_joined for the creator and member_invited for the others, in one go', async () => {
        const { store } = await fresh();
        const [ana, ben, cy] = [await newUser(store), await newUser(store), await newUser(store)];
        const created = await store.createRoom(
          newRoom({ id: 'team', name: 'Team', topic: 'Plans', visibility: 'private', createdBy: ana.id, clientId: 'mk-1', members: [{ userId: ana.id, role: 'owner' }, { userId: ben.id, role: 'member' }] }),
        );
        assert.ok(created.ok);
        assert.equal(created.duplicate, false);
        assert.deepEqual(created.room, {
          id: 'team',
          kind: 'channel',
          name: 'Team',
          topic: 'Plans',
          visibility: 'private',
          archived: false,
          lastSeq: 3,
          createdAt: T0 + 100,
          createdBy: ana.id,
          dmKey: null,
          memberCount: 2,
          lastActivityAt: T0 + 100,
        });
        assert.deepEqual(
          created.events.map((e) => [e.seq, e.kind, e.actorId, e.userId, e.data]),
          [
            [1, 'room_created', ana.id, null, { kind: 'channel', name: 'Team', topic: 'Plans', visibility: 'private' }],
            [2, 'member_joined', ana.id, ana.id, { role: 'owner' }],
            [3, 'member_invited', ana.id, ben.id, { role: 'member' }],
          ],
        );
        assert.equal(created.events[0]!.clientId, 'mk-1');
        assert.deepEqual(await store.getMember('team', ana.id), { roomId: 'team', userId: ana.id, role: 'owner', joinedAt: T0 + 100, readSeq: 3, notify: null });
        assert.equal((await store.getMember('team', ben.id))?.role, 'member');
        assert.equal(await store.getMember('team', cy.id), null);
        const events = await store.getEvents('team', { after: 0, limit: 10 });
        assert.deepEqual(events.events.map(({ message, user, ...e }) => e), created.events);

        const again = await store.createRoom(newRoom({ id: 'team', name: 'Team', createdBy: ana.id, clientId: 'mk-1', members: [{ userId: ana.id, role: 'owner' }, { userId: ben.id, role: 'member' }] }));
        assert.deepEqual(again, { ...created, duplicate: true }, 'a retried creation returns the first one');
        assert.deepEqual(
          await store.createRoom(newRoom({ id: 'other', createdBy: ana.id, clientId: 'mk-1', members: [{ userId: ana.id, role: 'owner' }] })),
          { ok: false, error: 'idempotency_conflict' },
        );
        assert.equal(await store.getRoom('other'), null);
        assert.equal((await store.getRoom('team'))?.lastSeq, 3);
      });

      test('a DM is found by its key; opening it again returns the existing one', async () => {
        const { store } = await fresh();
        const [ana, ben] = [await newUser(store), await newUser(store)];
        const dmKey = [ana.id, ben.id].sort((a, b) => a - b).join(',');
        const members = [{ userId: ana.id, role: 'member' as const }, { userId: ben.id, role: 'member' as const }];
        const dm = await store.createRoom(newRoom({ id: 'dm1', kind: 'dm', name: '', visibility: 'private', dmKey, createdBy: ana.id, members }));
        assert.ok(dm.ok);
        assert.equal(dm.room.kind, 'dm');
        assert.equal(dm.room.dmKey, dmKey);
        assert.deepEqual(dm.events.map((e) => e.kind), ['room_created', 'member_joined', 'member_invited']);
        assert.deepEqual(await store.getRoomByDmKey(dmKey), dm.room);
        assert.equal(await store.getRoomByDmKey(`${dmKey},999`), null);
        // Ben opens the same DM at the same time, with another id: he gets Ana's.
        const second = await store.createRoom(newRoom({ id: 'dm2', kind: 'dm', name: '', visibility: 'private', dmKey, createdBy: ben.id, members }));
        assert.deepEqual(second, { ok: true, room: dm.room, duplicate: true, events: [] });
        assert.equal(await store.getRoom('dm2'), null);
      });

      test('listPublicRooms: public, unarchived channels, most members first, by case-insensitive name prefix', async () => {
        const { store } = await fresh();
        const [a, b, c] = [await newUser(store), await newUser(store), await newUser(store)];
        const mk = (id: string, name: string, members: number[], over: Partial<NewRoom> = {}) =>
          store.createRoom(newRoom({ id, name, createdBy: members[0]!, members: members.map((userId) => ({ userId, role: 'member' })), ...over }));
        await mk('r-small', 'Design', [a.id]);
        await mk('r-big', 'devops', [a.id, b.id, c.id]);
        await mk('r-mid', 'Dev_talk', [a.id, b.id]);
        await mk('r-private', 'Dev secret', [a.id], { visibility: 'private' });
        await mk('r-dm', '', [a.id, b.id], { kind: 'dm', visibility: 'private', dmKey: `${a.id},${b.id}` });
        await mk('r-archived', 'Dev old', [a.id]);
        allOk(await store.applyChanges([{ kind: 'room_archived', roomId: 'r-archived', actorId: a.id, clientId: null, at: T0 + 200, archived: true }]));
        const ids = async (q: { prefix?: string; limit: number }) => (await store.listPublicRooms(q)).map((r) => r.id);
        assert.deepEqual(await ids({ limit: 10 }), ['r-big', 'r-mid', 'r-small']);
        assert.deepEqual(await ids({ limit: 2 }), ['r-big', 'r-mid']);
        assert.deepEqual(await ids({ prefix: 'DEV', limit: 10 }), ['r-big', 'r-mid']);
        assert.deepEqual(await ids({ prefix: 'dev_', limit: 10 }), ['r-mid'], '_ is a character, not a pattern');
        assert.deepEqual(await ids({ prefix: 'd%', limit: 10 }), [], '% is a character, not a pattern');
        assert.equal((await store.listPublicRooms({ limit: 1 }))[0]!.memberCount, 3);
      });
    });

    describe('applyChanges: messages', () => {
      test('an empty batch stores nothing', async () => {
        const { store } = await withRooms();
        assert.deepEqual(await store.applyChanges([]), []);
        assert.equal((await store.getRoom('general'))?.lastSeq, 2);
      });

      test('one batch gets consecutive seqs in order, the next batch continues, and lastSeq follows', async () => {
        const { store, alice, bob, next } = await withRooms();
        const s = await next();
        const first = allOk(await store.applyChanges([send('general', alice.id, 'a1'), send('general', bob.id, 'b1', 'hi', [alice.id]), send('general', alice.id, 'a2')]));
        assert.deepEqual(first.map((r) => r.event!.seq), [s, s + 1, s + 2]);
        assert.ok(first.every((r) => r.duplicate === false));
        assert.deepEqual(first[1]!.message, {
          id: first[1]!.message!.id,
          roomId: 'general',
          seq: s + 1,
          authorId: bob.id,
          clientId: 'b1',
          text: 'hi',
          createdAt: T0 + 1000,
          version: s + 1,
          editedAt: null,
          deletedAt: null,
          mentions: [alice.id],
        });
        assert.deepEqual(first[1]!.event, {
          roomId: 'general',
          seq: s + 1,
          kind: 'message_created',
          actorId: bob.id,
          clientId: 'b1',
          createdAt: T0 + 1000,
          messageId: first[1]!.message!.id,
          userId: null,
          data: {},
        });
        assert.equal(new Set(first.map((r) => r.message!.id)).size, 3, 'distinct ids');
        const second = allOk(await store.applyChanges([send('general', bob.id, 'b2'), send('general', bob.id, 'b3')]));
        assert.deepEqual(second.map((r) => r.event!.seq), [s + 3, s + 4]);
        assert.equal((await store.getRoom('general'))?.lastSeq, s + 4);
      });

      test('each room has its own sequence, also when interleaved in one batch', async () => {
        const { store, alice, next } = await withRooms();
        const [g, r] = [await next('general'), await next('random')];
        const results = allOk(
          await store.applyChanges([send('general', alice.id, 'g1'), send('random', alice.id, 'r1'), send('general', alice.id, 'g2'), send('random', alice.id, 'r2'), send('random', alice.id, 'r3')]),
        );
        assert.deepEqual(results.map((x) => [x.event!.roomId, x.event!.seq]), [['general', g], ['random', r], ['general', g + 1], ['random', r + 1], ['random', r + 2]]);
        assert.equal(new Set(results.map((x) => x.message!.id)).size, 5, 'ids are unique across rooms');
        assert.equal((await store.getRoom('general'))?.lastSeq, g + 1);
        assert.equal((await store.getRoom('random'))?.lastSeq, r + 2);
      });

      test('concurrent batches never share or skip a seq', async () => {
        const { store, alice, bob, next } = await withRooms();
        const s = await next();
        const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 5 }, (_, i) => send('general', b % 2 ? alice.id : bob.id, `c${b}-${i}`)));
        const results = (await Promise.all(batches.map((batch) => store.applyChanges(batch)))).flat();
        const seqs = allOk(results).map((r) => r.event!.seq).sort((a, b) => a - b);
        assert.deepEqual(seqs, Array.from({ length: 40 }, (_, i) => s + i));
        for (let b = 0; b < batches.length; b++) {
          const own = results.slice(b * 5, b * 5 + 5).map((r) => (r.ok ? r.event!.seq : -1));
          assert.deepEqual(own, [...own].sort((x, y) => x - y));
        }
      });

      test('a resent (author, clientId) returns the original message and event, duplicate:true, and consumes no seq', async () => {
        const { store, alice, bob, next } = await withRooms();
        const s = await next();
        const original = await applied(store, send('general', alice.id, 'same', 'first text'));
        const [again, other] = allOk(await store.applyChanges([send('general', alice.id, 'same', 'edited text'), send('general', alice.id, 'other')]));
        assert.equal(again!.duplicate, true);
        assert.deepEqual(again!.message, original.message, 'the original, text included');
        assert.deepEqual(again!.event, original.event);
        assert.equal(other!.event!.seq, s + 1, 'the duplicate consumed no seq');
        // The same clientId from another author is a different message.
        const bobs = await applied(store, send('general', bob.id, 'same'));
        assert.equal(bobs.event.seq, s + 2);
        const page = await store.getMessages('general', { limit: 10 });
        assert.deepEqual(page.messages.map((m) => m.clientId), ['same', 'other', 'same']);
      });

      test('a duplicate within one batch is stored once', async () => {
        const { store, alice, next } = await withRooms();
        const s = await next();
        const [a, b, c] = allOk(await store.applyChanges([send('general', alice.id, 'dup'), send('general', alice.id, 'dup'), send('general', alice.id, 'after')]));
        assert.equal(a!.duplicate, false);
        assert.equal(b!.duplicate, true);
        assert.deepEqual(b!.message, a!.message);
        assert.equal(c!.event!.seq, s + 1);
        assert.equal((await store.getMessages('general', { limit: 10 })).messages.length, 2);
      });

      test('the same clientId for a change in another room, or of another kind, is an idempotency_conflict', async () => {
        const { store, alice, next } = await withRooms();
        const sent = await applied(store, send('general', alice.id, 'key-1'));
        const before = await next('random');
        assert.deepEqual(await store.applyChanges([send('random', alice.id, 'key-1')]), [{ ok: false, error: 'idempotency_conflict' }]);
        assert.deepEqual(
          await store.applyChanges([{ kind: 'reaction_added', roomId: 'general', actorId: alice.id, clientId: 'key-1', at: T0 + 2000, messageId: sent.message!.id, emoji: '👍' }]),
          [{ ok: false, error: 'idempotency_conflict' }],
        );
        assert.equal(await next('random'), before, 'nothing was stored');
        assert.deepEqual((await store.getMessage('general', sent.message!.id))?.reactions, []);
      });

      test('an unknown room is refused without consuming a seq, and the rest of the batch is stored', async () => {
        const { store, alice, next } = await withRooms();
        const s = await next();
        const results = await store.applyChanges([send('general', alice.id, 'g1'), send('nowhere', alice.id, 'n1'), send('general', alice.id, 'g2')]);
        assert.deepEqual(results[1], { ok: false, error: 'room_not_found' });
        assert.deepEqual(allOk([results[0]!, results[2]!]).map((r) => r.event!.seq), [s, s + 1]);
        assert.equal(await store.getRoom('nowhere'), null, 'no room was created');
        // The refused clientId is free for a real message later.
        const later = await applied(store, send('general', alice.id, 'n1'));
        assert.equal(later.event.seq, s + 2);
      });

      test('a user who is not (or no longer) a member cannot send', async () => {
        const { store, alice, next } = await withRooms();
        const carol = await newUser(store);
        const s = await next();
        assert.deepEqual(await store.applyChanges([send('general', carol.id, 'c1')]), [{ ok: false, error: 'not_a_member' }]);
        await applied(store, { kind: 'member_left', roomId: 'general', actorId: alice.id, clientId: null, at: T0 + 900, userId: alice.id });
        assert.deepEqual(await store.applyChanges([send('general', alice.id, 'a1')]), [{ ok: false, error: 'not_a_member' }]);
        assert.equal(await next(), s + 1, 'only the leave took a seq');
      });

      test('a message without a clientId is stored, and another one without is another message', async () => {
        const { store, alice } = await withRooms();
        const [a, b] = allOk(await store.applyChanges([send('general', alice.id, null, 'one'), send('general', alice.id, null, 'two')]));
        assert.notEqual(a!.message!.id, b!.message!.id);
        assert.equal(a!.event!.clientId, null);
        assert.deepEqual((await store.getMessages('general', { limit: 10 })).messages.map((m) => m.text), ['one', 'two']);
      });

      test('a new message moves the room\'s lastActivityAt', async () => {
        const { store, alice } = await withRooms();
        assert.equal((await store.getRoom('general'))?.lastActivityAt, T0);
        await applied(store, send('general', alice.id, 'late', 'x', [], T0 + 7000));
        assert.equal((await store.getRoom('general'))?.lastActivityAt, T0 + 7000);
        assert.equal((await store.getRoom('random'))?.lastActivityAt, T0);
      });
    });

    describe('applyChanges: edits and deletes', () => {
      const edit = (roomId: string, actorId: number, messageId: number, text: string, mentions: number[] = [], clientId: string | null = null): RoomChange => ({
        kind: 'message_edited',
        roomId,
        actorId,
        clientId,
        at: T0 + 3000,
        messageId,
        text,
        mentions,
      });
      const del = (roomId: string, actorId: number, messageId: number, clientId: string | null = null): RoomChange => ({
        kind: 'message_deleted',
        roomId,
        actorId,
        clientId,
        at: T0 + 4000,
        messageId,
      });

      test('an edit replaces the text and mentions, sets editedAt, and the version becomes its seq', async () => {
        const { store, alice, bob } = await withRooms();
        const sent = await applied(store, send('general', alice.id, 'e1', 'hello @bob', [bob.id]));
        const edited = await applied(store, edit('general', alice.id, sent.message!.id, 'hello @alice', [alice.id], 'e1-edit'));
        assert.equal(edited.event.kind, 'message_edited');
        assert.equal(edited.event.messageId, sent.message!.id);
        assert.deepEqual(edited.event.data, {}, 'no text in the log');
        assert.deepEqual(edited.message, { ...sent.message!, text: 'hello @alice', mentions: [alice.id], editedAt: T0 + 3000, version: edited.event.seq });
        const stored = await store.getMessage('general', sent.message!.id);
        assert.equal(stored?.text, 'hello @alice');
        assert.equal(stored?.version, edited.event.seq);
        // A retry is the same edit; the same key on another message is a conflict.
        const [again] = allOk(await store.applyChanges([edit('general', alice.id, sent.message!.id, 'other text', [], 'e1-edit')]));
        assert.equal(again!.duplicate, true);
        assert.deepEqual(again!.event, edited.event);
        const other = await applied(store, send('general', alice.id, 'e2'));
        assert.deepEqual(await store.applyChanges([edit('general', alice.id, other.message!.id, 'x', [], 'e1-edit')]), [{ ok: false, error: 'idempotency_conflict' }]);
      });

      test('an edit that changes nothing writes nothing', async () => {
        const { store, alice, bob, next } = await withRooms();
        const sent = await applied(store, send('general', alice.id, 'same', 'same text', [bob.id]));
        const s = await next();
        const [r] = allOk(await store.applyChanges([edit('general', alice.id, sent.message!.id, 'same text', [bob.id])]));
        assert.equal(r!.event, null);
        assert.deepEqual(r!.message, sent.message);
        assert.equal(await next(), s);
      });

      test('a delete leaves a tombstone: no text, no mentions, no reactions, and its version', async () => {
        const { store, alice, bob } = await withRooms();
        const sent = await applied(store, send('general', alice.id, 'd1', 'secret @bob', [bob.id]));
        await applied(store, { kind: 'reaction_added', roomId: 'general', actorId: bob.id, clientId: null, at: T0 + 2000, messageId: sent.message!.id, emoji: '🎉' });
        const deleted = await applied(store, del('general', bob.id, sent.message!.id, 'd1-del'));
        assert.equal(deleted.event.kind, 'message_deleted');
        assert.equal(deleted.event.actorId, bob.id, 'an admin may delete; who may is the caller\'s check');
        assert.deepEqual(deleted.message, { ...sent.message!, text: '', mentions: [], deletedAt: T0 + 4000, version: deleted.event.seq });
        const stored = await store.getMessage('general', sent.message!.id);
        assert.deepEqual({ text: stored?.text, mentions: stored?.mentions, reactions: stored?.reactions, deletedAt: stored?.deletedAt }, { text: '', mentions: [], reactions: [], deletedAt: T0 + 4000 });
        const page = await store.getMessages('general', { limit: 10 });
        assert.equal(page.messages.length, 1, 'the tombstone keeps its place');
        // The earlier events now refer to the tombstone.
        const { events } = await store.getEvents('general', { after: 0, limit: 20 });
        for (const e of events.filter((x) => x.messageId === sent.message!.id)) assert.equal(e.message?.text, '');
        assert.ok(!JSON.stringify(events).includes('secret'));
      });

      test('edits, deletes and reactions need a live message of this room and a member', async () => {
        const { store, alice, bob, next } = await withRooms();
        const carol = await newUser(store);
        const inRandom = await applied(store, send('random', alice.id, 'r1'));
        const gone = await applied(store, send('general', alice.id, 'g1'));
        await applied(store, del('general', alice.id, gone.message!.id));
        const live = await applied(store, send('general', alice.id, 'g2'));
        const s = await next();
        const react = (messageId: number, actorId = bob.id): RoomChange => ({ kind: 'reaction_added', roomId: 'general', actorId, clientId: null, at: T0 + 5000, messageId, emoji: '👍' });
        const cases: [RoomChange, string][] = [
          [edit('general', alice.id, inRandom.message!.id, 'x'), 'message_not_found'],
          [edit('general', alice.id, 999_999, 'x'), 'message_not_found'],
          [edit('general', alice.id, gone.message!.id, 'x'), 'message_deleted'],
          [del('general', alice.id, gone.message!.id), 'message_deleted'],
          [del('general', alice.id, inRandom.message!.id), 'message_not_found'],
          [react(gone.message!.id), 'message_deleted'],
          [react(inRandom.message!.id), 'message_not_found'],
          [react(live.message!.id, carol.id), 'not_a_member'],
          [edit('general', carol.id, live.message!.id, 'x'), 'not_a_member'],
          [del('general', carol.id, live.message!.id), 'not_a_member'],
        ];
        for (const [change, error] of cases) assert.deepEqual(await store.applyChanges([change]), [{ ok: false, error }], `${change.kind} -> ${error}`);
        assert.equal(await next(), s, 'no refusal took a seq');
      });
    });

    describe('applyChanges: reactions', () => {
      const react = (kind: 'reaction_added' | 'reaction_removed', actorId: number, messageId: number, emoji: string, clientId: string | null = null): RoomChange => ({
        kind,
        roomId: 'general',
        actorId,
        clientId,
        at: T0 + 2000,
        messageId,
        emoji,
      });

      test('adding and removing reactions: counts after each event, versions, and no-ops that write nothing', async () => {
        const { store, alice, bob, next } = await withRooms();
        const m = (await applied(store, send('general', alice.id, 'm'))).message!;
        const a1 = await applied(store, react('reaction_added', alice.id, m.id, '👍'));
        assert.deepEqual(a1.event.data, { emoji: '👍', count: 1 });
        assert.equal(a1.event.messageId, m.id);
        assert.equal(a1.message?.version, a1.event.seq);
        const b1 = await applied(store, react('reaction_added', bob.id, m.id, '👍'));
        assert.deepEqual(b1.event.data, { emoji: '👍', count: 2 });
        const s = await next();
        const [dup] = allOk(await store.applyChanges([react('reaction_added', bob.id, m.id, '👍')]));
        assert.deepEqual({ event: dup!.event, duplicate: dup!.duplicate }, { event: null, duplicate: false }, 'already there: a no-op');
        assert.equal(dup!.message?.version, b1.event.seq);
        const [none] = allOk(await store.applyChanges([react('reaction_removed', bob.id, m.id, '🎉')]));
        assert.equal(none!.event, null, 'not there: a no-op');
        assert.equal(await next(), s, 'no-ops take no seq');
        const r1 = await applied(store, react('reaction_removed', alice.id, m.id, '👍'));
        assert.deepEqual(r1.event.data, { emoji: '👍', count: 1 });
        assert.equal((await store.getMessage('general', m.id))?.version, r1.event.seq);
        assert.deepEqual((await store.getMessage('general', m.id))?.reactions, [{ emoji: '👍', count: 1, users: [bob.id] }]);
      });

      test('reactions come with messages: emoji in order of first use, users in order of reacting', async () => {
        const { store, alice, bob } = await withRooms();
        const carol = await newUser(store);
        allOk(await store.applyChanges([join('general', carol.id)]));
        const [m1, m2] = allOk(await store.applyChanges([send('general', alice.id, 'm1'), send('general', alice.id, 'm2')])).map((r) => r.message!);
        allOk(
          await store.applyChanges([
            react('reaction_added', carol.id, m1!.id, '🎉'),
            react('reaction_added', alice.id, m1!.id, '👍'),
            react('reaction_added', bob.id, m1!.id, '🎉'),
            react('reaction_added', alice.id, m1!.id, '🎉'),
            react('reaction_added', bob.id, m2!.id, '❤️'),
          ]),
        );
        const page = await store.getMessages('general', { limit: 10 });
        assert.deepEqual(page.messages.map((m) => m.reactions), [
          [
            { emoji: '🎉', count: 3, users: [carol.id, bob.id, alice.id] },
            { emoji: '👍', count: 1, users: [alice.id] },
          ],
          [{ emoji: '❤️', count: 1, users: [bob.id] }],
        ]);
        assert.deepEqual((await store.getMessage('general', m1!.id))?.reactions, page.messages[0]!.reactions);
      });

      test('an emoji keeps its place while anyone reacts with it, even when its first reactor takes theirs back; one that comes back goes last', async () => {
        const { store, alice, bob } = await withRooms();
        const m = (await applied(store, send('general', alice.id, 'm'))).message!;
        allOk(
          await store.applyChanges([
            react('reaction_added', alice.id, m.id, '🎉'),
            react('reaction_added', bob.id, m.id, '👍'),
            react('reaction_added', bob.id, m.id, '🎉'),
            react('reaction_removed', alice.id, m.id, '🎉'),
          ]),
        );
        const order = async () => (await store.getMessage('general', m.id))!.reactions.map((r) => `${r.emoji}${r.users.join(',')}`);
        // As a client applying these four events in order shows it: 🎉's run began first and never ended.
        assert.deepEqual(await order(), [`🎉${bob.id}`, `👍${bob.id}`]);
        allOk(await store.applyChanges([react('reaction_removed', bob.id, m.id, '🎉'), react('reaction_added', alice.id, m.id, '🎉')]));
        assert.deepEqual(await order(), [`👍${bob.id}`, `🎉${alice.id}`], 'a run that ended and began again is the newest');
        assert.deepEqual((await store.getMessages('general', { limit: 10 })).messages.at(-1)!.reactions.map((r) => r.emoji), ['👍', '🎉'], 'pages agree');
      });

      test(`a message takes at most ${LIMITS.reactionsPerMessageMax} different emoji; more people may use one already there`, async () => {
        const { store, alice, bob } = await withRooms();
        const m = (await applied(store, send('general', alice.id, 'm'))).message!;
        const emoji = ['😀', '😃', '😄', '😁', '😆', '😅', '🤣', '😂', '🙂', '🙃', '😉', '😊', '😇', '🥰', '😍', '🤩', '😘', '😗', '😚', '😙', '😋'];
        allOk(await store.applyChanges(emoji.slice(0, LIMITS.reactionsPerMessageMax).map((e) => react('reaction_added', alice.id, m.id, e))));
        assert.deepEqual(await store.applyChanges([react('reaction_added', bob.id, m.id, emoji[LIMITS.reactionsPerMessageMax]!)]), [{ ok: false, error: 'too_many_reactions' }]);
        await applied(store, react('reaction_added', bob.id, m.id, emoji[0]!));
        await applied(store, react('reaction_removed', alice.id, m.id, emoji[1]!));
        await applied(store, react('reaction_added', bob.id, m.id, emoji[LIMITS.reactionsPerMessageMax]!));
      });

      test(`at most ${LIMITS.reactionUsersListed} reactors are listed per emoji; the count is exact`, async () => {
        const { store, alice } = await withRooms();
        const m = (await applied(store, send('general', alice.id, 'm'))).message!;
        const users: UserRecord[] = [];
        for (let i = 0; i < LIMITS.reactionUsersListed + 2; i++) users.push(await newUser(store));
        allOk(await store.applyChanges(users.map((u) => join('general', u.id))));
        allOk(await store.applyChanges(users.map((u) => react('reaction_added', u.id, m.id, '👍'))));
        const [r] = (await store.getMessage('general', m.id))!.reactions;
        assert.equal(r!.count, LIMITS.reactionUsersListed + 2);
        assert.deepEqual(r!.users, users.slice(0, LIMITS.reactionUsersListed).map((u) => u.id));
      });

      test('a retried reaction is a duplicate; the same key for another emoji is a conflict', async () => {
        const { store, alice } = await withRooms();
        const m = (await applied(store, send('general', alice.id, 'm'))).message!;
        const first = await applied(store, react('reaction_added', alice.id, m.id, '👍', 'rk'));
        const [again] = allOk(await store.applyChanges([react('reaction_added', alice.id, m.id, '👍', 'rk')]));
        assert.deepEqual({ event: again!.event, duplicate: again!.duplicate }, { event: first.event, duplicate: true });
        assert.deepEqual(await store.applyChanges([react('reaction_added', alice.id, m.id, '🎉', 'rk')]), [{ ok: false, error: 'idempotency_conflict' }]);
        assert.deepEqual(await store.applyChanges([react('reaction_removed', alice.id, m.id, '👍', 'rk')]), [{ ok: false, error: 'idempotency_conflict' }]);
      });
    });

    describe('applyChanges: members and room settings', () => {
      test('join, role change, leave and removal: events, memberCount, and no-ops', async () => {
        const { store, alice, bob, next } = await withRooms();
        const carol = await newUser(store);
        const s = await next();
        const joined = await applied(store, join('general', carol.id, 'member', T0 + 800));
        assert.deepEqual(joined.event, { roomId: 'general', seq: s, kind: 'member_joined', actorId: carol.id, clientId: null, createdAt: T0 + 800, messageId: null, userId: carol.id, data: { role: 'member' } });
        assert.deepEqual(await store.getMember('general', carol.id), { roomId: 'general', userId: carol.id, role: 'member', joinedAt: T0 + 800, readSeq: s, notify: null });
        assert.equal((await store.getRoom('general'))?.memberCount, 3);
        const [again] = allOk(await store.applyChanges([join('general', carol.id)]));
        assert.equal(again!.event, null, 'already a member: a no-op');
        const promoted = await applied(store, { kind: 'member_role_changed', roomId: 'general', actorId: alice.id, clientId: null, at: T0 + 900, userId: carol.id, role: 'admin' });
        assert.deepEqual(promoted.event.data, { role: 'admin' });
        assert.equal((await store.getMember('general', carol.id))?.role, 'admin');
        const [same] = allOk(await store.applyChanges([{ kind: 'member_role_changed', roomId: 'general', actorId: alice.id, clientId: null, at: T0 + 900, userId: carol.id, role: 'admin' }]));
        assert.equal(same!.event, null);
        const removed = await applied(store, { kind: 'member_removed', roomId: 'general', actorId: alice.id, clientId: null, at: T0 + 950, userId: carol.id });
        assert.equal(removed.event.userId, carol.id);
        assert.equal(removed.event.actorId, alice.id);
        assert.equal(await store.getMember('general', carol.id), null);
        assert.equal((await store.getRoom('general'))?.memberCount, 2);
        const [left] = allOk(await store.applyChanges([{ kind: 'member_left', roomId: 'general', actorId: carol.id, clientId: null, at: T0 + 960, userId: carol.id }]));
        assert.equal(left!.event, null, 'not a member: leaving is a no-op');
        assert.deepEqual(
          await store.applyChanges([{ kind: 'member_role_changed', roomId: 'general', actorId: alice.id, clientId: null, at: T0 + 970, userId: carol.id, role: 'member' }]),
          [{ ok: false, error: 'not_a_member' }],
        );
        const invited = await applied(store, { kind: 'member_invited', roomId: 'general', actorId: bob.id, clientId: null, at: T0 + 980, userId: carol.id, role: 'member' });
        assert.equal(invited.event.actorId, bob.id);
        assert.deepEqual(await store.applyChanges([join('general', 999_999)]), [{ ok: false, error: 'user_not_found' }]);
      });

      test(`a user can be in at most ${LIMITS.roomsPerUserMax} rooms`, async () => {
        const { store } = await fresh();
        const [ana, ben] = [await newUser(store), await newUser(store)];
        const rooms = Array.from({ length: LIMITS.roomsPerUserMax + 1 }, (_, i) => `cap-${i}`);
        for (const id of rooms) await store.ensureRoom({ id, name: id, createdAt: T0 });
        allOk(await store.applyChanges(rooms.slice(0, -1).map((id) => join(id, ana.id))));
        assert.deepEqual(await store.applyChanges([join(rooms.at(-1)!, ana.id)]), [{ ok: false, error: 'too_many_rooms' }]);
        assert.deepEqual(
          await store.applyChanges([{ kind: 'member_invited', roomId: rooms.at(-1)!, actorId: ben.id, clientId: null, at: T0, userId: ana.id, role: 'member' }]),
          [{ ok: false, error: 'too_many_rooms' }],
        );
        assert.deepEqual(await store.createRoom(newRoom({ id: 'one-more', createdBy: ana.id, members: [{ userId: ana.id, role: 'owner' }] })), { ok: false, error: 'too_many_rooms' });
        assert.deepEqual(
          await store.createRoom(newRoom({ id: 'dm-full', kind: 'dm', name: '', dmKey: `${ana.id},${ben.id}`, createdBy: ben.id, members: [{ userId: ben.id, role: 'member' }, { userId: ana.id, role: 'member' }] })),
          { ok: false, error: 'too_many_rooms' },
          'nor be added to a DM',
        );
        assert.equal(await store.getRoom('one-more'), null);
        await applied(store, { kind: 'member_left', roomId: rooms[0]!, actorId: ana.id, clientId: null, at: T0, userId: ana.id });
        await applied(store, join(rooms.at(-1)!, ana.id));
      });

      test('rename, topic and archive; an archived room refuses every change but unarchiving', async () => {
        const { store, alice, bob } = await withRooms();
        const m = (await applied(store, send('general', alice.id, 'm'))).message!;
        const base = { roomId: 'general', actorId: alice.id, clientId: null, at: T0 + 6000 };
        assert.deepEqual((await applied(store, { ...base, kind: 'room_renamed', name: 'Lobby' })).event.data, { name: 'Lobby' });
        assert.deepEqual((await applied(store, { ...base, kind: 'room_topic_changed', topic: 'Hello' })).event.data, { topic: 'Hello' });
        const [same] = allOk(await store.applyChanges([{ ...base, kind: 'room_renamed', name: 'Lobby' }]));
        assert.equal(same!.event, null);
        assert.deepEqual((await applied(store, { ...base, kind: 'room_archived', archived: true })).event.data, { archived: true });
        const room = await store.getRoom('general');
        assert.deepEqual([room?.name, room?.topic, room?.archived], ['Lobby', 'Hello', true]);
        const carol = await newUser(store);
        const refused: RoomChange[] = [
          send('general', alice.id, 'late'),
          { ...base, kind: 'message_edited', messageId: m.id, text: 'x', mentions: [] },
          { ...base, kind: 'message_deleted', messageId: m.id },
          { ...base, kind: 'reaction_added', messageId: m.id, emoji: '👍' },
          join('general', carol.id),
          { ...base, kind: 'member_left', userId: bob.id },
          { ...base, kind: 'room_renamed', name: 'Other' },
          { ...base, kind: 'room_topic_changed', topic: 'Other' },
        ];
        for (const change of refused) assert.deepEqual(await store.applyChanges([change]), [{ ok: false, error: 'room_archived' }], change.kind);
        assert.deepEqual((await applied(store, { ...base, kind: 'room_archived', archived: false })).event.data, { archived: false });
        await applied(store, send('general', alice.id, 'late'));
      });

      test('listMembers lists members by join time with their user; getMember finds one', async () => {
        const { store, alice, bob } = await withRooms();
        const carol = await newUser(store);
        allOk(await store.applyChanges([join('general', carol.id, 'admin', T0 + 100)]));
        const listed = await store.listMembers('general', 10);
        assert.deepEqual(listed.map((x) => [x.user.id, x.member.role]), [[carol.id, 'admin'], [alice.id, 'member'], [bob.id, 'member']]);
        assert.deepEqual(listed[0]!.user, carol);
        assert.deepEqual(listed[0]!.member, await store.getMember('general', carol.id));
        assert.equal((await store.listMembers('general', 2)).length, 2);
        assert.deepEqual(await store.listMembers('nope', 10), []);
        assert.equal(await store.getMember('nope', alice.id), null);
      });
    });

    describe('read state', () => {
      test('unread counts others\' live messages after the read position; mentions count those that mention the user', async () => {
        const { store, alice, bob } = await withRooms();
        const unread = async (userId: number, roomId = 'general') => {
          const r = await store.getUserRoom(userId, roomId, 999);
          return [r?.unread, r?.mentions];
        };
        assert.deepEqual(await unread(bob.id), [0, 0]);
        const [, toBob, , toSelf] = allOk(
          await store.applyChanges([
            send('general', alice.id, 'a1'),
            send('general', alice.id, 'a2', '@bob', [bob.id]),
            send('general', bob.id, 'b1', 'mine'),
            send('general', bob.id, 'b2', 'me, @bob', [bob.id]),
            send('general', alice.id, 'a3', '@bob again', [bob.id]),
          ]),
        );
        assert.deepEqual(await unread(bob.id), [3, 2], "bob's own messages never count, not even when he mentions himself");
        assert.deepEqual(await unread(alice.id), [2, 0]);
        assert.ok(toSelf);
        await applied(store, { kind: 'message_deleted', roomId: 'general', actorId: alice.id, clientId: null, at: T0 + 5000, messageId: toBob!.message!.id });
        assert.deepEqual(await unread(bob.id), [2, 1], 'a deleted unread message stops counting');
        await applied(store, { kind: 'message_edited', roomId: 'general', actorId: alice.id, clientId: null, at: T0 + 5000, messageId: (await store.getMessages('general', { limit: 1 })).messages[0]!.id, text: 'nobody', mentions: [] });
        assert.deepEqual(await unread(bob.id), [2, 0], 'an edit that drops the mention drops it from the count');
        assert.equal(await store.getUserRoom(bob.id, 'nope', 999), null);
        const carol = await newUser(store);
        assert.equal(await store.getUserRoom(carol.id, 'general', 999), null, 'not a member');
      });

      test('counts stop at the cap', async () => {
        const { store, alice, bob } = await withRooms();
        allOk(await store.applyChanges(Array.from({ length: 12 }, (_, i) => send('general', alice.id, `c${i}`, '@bob', [bob.id]))));
        const r = await store.getUserRoom(bob.id, 'general', 5);
        assert.deepEqual([r?.unread, r?.mentions], [5, 5]);
        assert.deepEqual((await store.listUserRooms(bob.id, 7)).map((x) => [x.unread, x.mentions]).find(([u]) => u === 7), [7, 7]);
        const read = await store.markRead('general', bob.id, 0, 3);
        assert.deepEqual([read?.unread, read?.mentions], [3, 3]);
      });

      test('a room far behind its reader (many times the cap) counts the same way: not their own, not deleted', async () => {
        const { store, alice, bob } = await withRooms();
        // 3 of alice's that mention bob, 20 of bob's own, then one of alice's deleted: 24 events
        // past bob's read position, 6 times a cap of 4.
        allOk(await store.applyChanges(Array.from({ length: 3 }, (_, i) => send('general', alice.id, `f${i}`, '@bob', [bob.id]))));
        allOk(await store.applyChanges(Array.from({ length: 20 }, (_, i) => send('general', bob.id, `own${i}`, '@bob', [bob.id]))));
        const [gone] = allOk(await store.applyChanges([send('general', alice.id, 'gone', '@bob', [bob.id])]));
        allOk(await store.applyChanges([{ kind: 'message_deleted', roomId: 'general', actorId: alice.id, clientId: null, at: T0 + 2000, messageId: gone!.message!.id }]));
        const far = await store.getUserRoom(bob.id, 'general', 4);
        assert.deepEqual([far?.unread, far?.mentions], [3, 3]);
        assert.deepEqual((await store.listUserRooms(bob.id, 4)).filter((x) => x.room.id === 'general').map((x) => [x.unread, x.mentions]), [[3, 3]]);
        assert.deepEqual((await store.listUserRooms(bob.id, 2)).filter((x) => x.room.id === 'general').map((x) => [x.unread, x.mentions]), [[2, 2]], 'and stop at the cap');
        const near = await store.getUserRoom(bob.id, 'general', 999);
        assert.deepEqual([near?.unread, near?.mentions], [3, 3]);
      });

      test('markRead moves forward only, never past the log, and returns the counts after', async () => {
        const { store, alice, bob } = await withRooms();
        const sent = allOk(await store.applyChanges([send('general', alice.id, 'x1'), send('general', alice.id, 'x2', '@bob', [bob.id]), send('general', alice.id, 'x3')]));
        const [s1, s2, s3] = sent.map((r) => r.event!.seq);
        // lastSeq: the seq through which the counts hold, read with them (the room's newest, s3 here).
        assert.deepEqual(await store.markRead('general', bob.id, s1!, 999), { readSeq: s1, unread: 2, mentions: 1, lastSeq: s3 });
        assert.deepEqual(await store.markRead('general', bob.id, s2!, 999), { readSeq: s2, unread: 1, mentions: 0, lastSeq: s3 });
        assert.deepEqual(await store.markRead('general', bob.id, s1!, 999), { readSeq: s2, unread: 1, mentions: 0, lastSeq: s3 }, 'never backward');
        assert.deepEqual(await store.markRead('general', bob.id, 1_000_000, 999), { readSeq: s3, unread: 0, mentions: 0, lastSeq: s3 }, 'clamped to lastSeq');
        assert.equal((await store.getMember('general', bob.id))?.readSeq, s3);
        const carol = await newUser(store);
        assert.equal(await store.markRead('general', carol.id, s3!, 999), null);
        assert.equal(await store.markRead('nope', bob.id, 1, 999), null);
      });

      test('listUserRoomIds lists exactly the rooms listUserRooms does', async () => {
        const { store, alice } = await withRooms();
        const carol = await newUser(store);
        assert.deepEqual((await store.listUserRoomIds(alice.id)).sort(), (await store.listUserRooms(alice.id, 0)).map((r) => r.room.id).sort());
        assert.deepEqual((await store.listUserRoomIds(alice.id)).sort(), ['general', 'random']);
        assert.deepEqual(await store.listUserRoomIds(carol.id), []);
      });

      test('setNotify changes one membership; a level never chosen is null (the default applies)', async () => {
        const { store, alice, bob } = await withRooms();
        assert.equal((await store.getMember('general', bob.id))?.notify, null);
        assert.equal(await store.setNotify('general', bob.id, 'all'), true);
        assert.equal((await store.getMember('general', bob.id))?.notify, 'all', 'a chosen "all" is told from the default');
        assert.equal(await store.setNotify('general', bob.id, 'mentions'), true);
        assert.equal((await store.getMember('general', bob.id))?.notify, 'mentions');
        assert.equal((await store.getUserRoom(bob.id, 'general', 999))?.member.notify, 'mentions');
        assert.equal((await store.getMember('general', alice.id))?.notify, null);
        assert.equal((await store.getMember('random', bob.id))?.notify, null);
        const carol = await newUser(store);
        assert.equal(await store.setNotify('general', carol.id, 'none'), false);
      });

      test('listUserRooms lists the user\'s rooms, most recently active first, with membership and counts', async () => {
        const { store, alice, bob } = await withRooms();
        await store.ensureRoom({ id: 'quiet', name: 'quiet', createdAt: T0 + 1 });
        allOk(await store.applyChanges([join('quiet', bob.id)]));
        allOk(await store.applyChanges([send('random', alice.id, 'r1', 'x', [], T0 + 2000), send('general', alice.id, 'g1', '@bob', [bob.id], T0 + 3000)]));
        const rooms = await store.listUserRooms(bob.id, 999);
        assert.deepEqual(rooms.map((r) => [r.room.id, r.unread, r.mentions]), [['general', 1, 1], ['random', 1, 0], ['quiet', 0, 0]]);
        assert.deepEqual(rooms[0]!.room, await store.getRoom('general'));
        assert.deepEqual(rooms[0]!.member, await store.getMember('general', bob.id));
        assert.deepEqual(rooms[1], await store.getUserRoom(bob.id, 'random', 999));
        assert.deepEqual((await store.listUserRooms(alice.id, 999)).map((r) => r.room.id), ['general', 'random']);
        const carol = await newUser(store);
        assert.deepEqual(await store.listUserRooms(carol.id, 999), []);
      });
    });

    describe('getEvents', () => {
      test('events after a seq, oldest first, paged, with the message as it is now and the member\'s user', async () => {
        const { store, alice, bob } = await withRooms();
        const m = (await applied(store, send('general', alice.id, 'e1', 'first'))).message!;
        await applied(store, { kind: 'reaction_added', roomId: 'general', actorId: bob.id, clientId: null, at: T0 + 2000, messageId: m.id, emoji: '👍' });
        await applied(store, { kind: 'message_edited', roomId: 'general', actorId: alice.id, clientId: null, at: T0 + 3000, messageId: m.id, text: 'second', mentions: [bob.id] });
        await store.setAvatarKey(bob.id, 'bob-now');
        const all = await store.getEvents('general', { after: 0, limit: 50 });
        assert.equal(all.hasMore, false);
        assert.equal(all.lastSeq, (await store.getRoom('general'))!.lastSeq);
        assert.deepEqual(all.events.map((e) => [e.seq, e.kind]), [[1, 'member_joined'], [2, 'member_joined'], [3, 'message_created'], [4, 'reaction_added'], [5, 'message_edited']]);
        assert.deepEqual(all.events[1]!.user, { id: bob.id, username: bob.username, avatarKey: 'bob-now' });
        assert.equal(all.events[1]!.message, null);
        const current = await store.getMessage('general', m.id);
        for (const e of all.events.slice(2)) {
          assert.deepEqual(e.message, { ...current!, reactions: [] }, 'the current message, reactions not loaded');
          assert.equal(e.user, null);
        }
        assert.equal(all.events[2]!.message?.text, 'second');
        assert.deepEqual(all.events[3]!.data, { emoji: '👍', count: 1 });
        const page = await store.getEvents('general', { after: 1, limit: 2 });
        assert.deepEqual([page.events.map((e) => e.seq), page.hasMore, page.lastSeq], [[2, 3], true, 5]);
        const last = await store.getEvents('general', { after: 3, limit: 2 });
        assert.deepEqual([last.events.map((e) => e.seq), last.hasMore], [[4, 5], false]);
        assert.deepEqual(await store.getEvents('general', { after: 5, limit: 2 }), { events: [], hasMore: false, lastSeq: 5 });
        assert.deepEqual(await store.getEvents('random', { after: 0, limit: 50 }).then((r) => r.events.length), 2, 'rooms do not leak');
        assert.deepEqual(await store.getEvents('nope', { after: 0, limit: 5 }), { events: [], hasMore: false, lastSeq: 0 });
      });
    });

    describe('users', () => {
      test('searchUsers: case-insensitive prefix, shortest name first, no pattern matching', async () => {
        const { store } = await fresh();
        const mk = (username: string) => newUser(store, { username });
        const [ann, anna, annabel, , under] = [await mk('Ann'), await mk('anna'), await mk('Annabel'), await mk('bob'), await mk('an_x')];
        assert.deepEqual((await store.searchUsers('AN', 10)).map((u) => u.id), [ann.id, under.id, anna.id, annabel.id]);
        assert.deepEqual((await store.searchUsers('ann', 2)).map((u) => u.username), ['Ann', 'anna']);
        assert.deepEqual((await store.searchUsers('annab', 10)).map((u) => u.username), ['Annabel']);
        assert.deepEqual((await store.searchUsers('an_', 10)).map((u) => u.username), ['an_x']);
        assert.deepEqual(await store.searchUsers('a%', 10), []);
        assert.deepEqual(await store.searchUsers('zed', 10), []);
        assert.deepEqual(await store.searchUsers('anna', 10), [anna, annabel]);
      });

      test('getUsersByIds and getUsersByUsernames find the users that exist', async () => {
        const { store } = await fresh();
        const a = await newUser(store, { username: 'Alpha' });
        const b = await newUser(store, { username: 'beta' });
        assert.deepEqual(await store.getUsersByIds([b.id, a.id, 999_999, a.id]), [a, b]);
        assert.deepEqual(await store.getUsersByIds([]), []);
        assert.deepEqual(await store.getUsersByUsernames(['alpha', 'BETA', 'gamma']), [a, b]);
        assert.deepEqual(await store.getUsersByUsernames(['alph%']), []);
        assert.deepEqual(await store.getUsersByUsernames([]), []);
      });
    });

    describe('getMessages', () => {
      /** `count` messages in general after two joins: message n has seq n + 2. */
      async function seeded(count: number) {
        const { store } = await fresh();
        await store.ensureRoom({ id: 'general', name: 'general', createdAt: T0 });
        await store.ensureRoom({ id: 'empty', name: 'empty', createdAt: T0 });
        const alice = await newUser(store, { username: 'Alice' });
        const bob = await newUser(store, { username: 'bob' });
        allOk(await store.applyChanges([join('general', alice.id), join('general', bob.id)]));
        allOk(await store.applyChanges(Array.from({ length: count }, (_, i) => send('general', i % 2 ? bob.id : alice.id, `m${i + 1}`, `text ${i + 1}`))));
        return { store, alice, bob };
      }
      const s = (n: number) => n + 2;
      const seqs = (messages: MessageWithAuthor[]) => messages.map((m) => m.seq);
      const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => s(from + i));

      test('messages come with their author, version, mentions and reactions, oldest first, and the lastSeq they reflect', async () => {
        const { store, alice, bob } = await seeded(3);
        const page = await store.getMessages('general', { limit: 10 });
        assert.equal(page.hasMore, false);
        assert.equal(page.lastSeq, s(3));
        assert.deepEqual(page.messages[0], {
          id: page.messages[0]!.id,
          roomId: 'general',
          seq: s(1),
          authorId: alice.id,
          clientId: 'm1',
          text: 'text 1',
          createdAt: T0 + 1000,
          version: s(1),
          editedAt: null,
          deletedAt: null,
          mentions: [],
          authorUsername: 'Alice',
          authorAvatarKey: null,
          reactions: [],
        });
        assert.equal(page.messages[1]!.authorId, bob.id);
        assert.equal(page.messages[1]!.authorUsername, 'bob');
        assert.deepEqual(seqs(page.messages), range(1, 3));
        await applied(store, { kind: 'reaction_added', roomId: 'general', actorId: bob.id, clientId: null, at: T0 + 2000, messageId: page.messages[0]!.id, emoji: '👍' });
        const after = await store.getMessages('general', { limit: 10 });
        assert.equal(after.lastSeq, s(4));
        assert.equal(after.messages[0]!.version, s(4));
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
        assert.deepEqual(seqs(page.messages), range(8, 10));
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
          [s(5), 3, range(2, 4), true],
          [s(4), 3, range(1, 3), false],
          [s(2), 3, range(1, 1), false],
          [s(1), 3, [], false],
          [s(11), 3, range(8, 10), true],
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
          [0, 3, range(1, 3), true],
          [s(6), 3, range(7, 9), true],
          [s(7), 3, range(8, 10), false],
          [s(9), 3, range(10, 10), false],
          [s(10), 3, [], false],
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
        let page = await store.getMessages('general', { after: s(2), before: s(6), limit: 10 });
        assert.deepEqual(seqs(page.messages), range(3, 5));
        assert.equal(page.hasMore, false);
        page = await store.getMessages('general', { after: s(2), before: s(6), limit: 2 });
        assert.deepEqual(seqs(page.messages), range(3, 4));
        assert.equal(page.hasMore, true);
        page = await store.getMessages('general', { after: s(2), before: s(6), limit: 3 });
        assert.deepEqual(seqs(page.messages), range(3, 5));
        assert.equal(page.hasMore, false, 'the window is exhausted');
        page = await store.getMessages('general', { after: s(5), before: s(6), limit: 3 });
        assert.deepEqual(page.messages, []);
      });

      test('an empty or unknown room has no messages, and rooms do not leak into each other', async () => {
        const { store } = await seeded(4);
        assert.deepEqual(await store.getMessages('empty', { limit: 10 }), { messages: [], hasMore: false, lastSeq: 0, membership: [] });
        assert.deepEqual(await store.getMessages('empty', { after: 0, limit: 10 }), { messages: [], hasMore: false, lastSeq: 0, membership: [] });
        assert.deepEqual(await store.getMessages('nope', { limit: 10 }), { messages: [], hasMore: false, lastSeq: 0, membership: [] });
        assert.equal(await store.getMessage('empty', (await store.getMessages('general', { limit: 1 })).messages[0]!.id), null, 'getMessage checks the room');
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
        const stored = allOk(await store.applyChanges([join('general', user.id), send('general', user.id, 'd1'), send('general', user.id, 'd2')]));
        const room = await store.getRoom('general');

        store = await fixture.reopen();
        await store.migrate();
        assert.deepEqual(await store.getUserByLogin({ username: 'durable' }), user);
        assert.deepEqual(await store.getSessionByTokenHash(hash('durable')), session);
        assert.deepEqual(await store.getRoom('general'), room);
        const page = await store.getMessages('general', { limit: 10 });
        assert.deepEqual(page.messages.map(({ authorUsername, authorAvatarKey, reactions, ...m }) => m), stored.slice(1).map((r) => r.message));
        const [again, next] = allOk(await store.applyChanges([send('general', user.id, 'd2'), send('general', user.id, 'd3')]));
        assert.equal(again!.duplicate, true, 'idempotency survives a restart');
        assert.equal(next!.event!.seq, 4, 'the sequence continues where it was');
        await assert.rejects(store.createUser({ username: 'DURABLE', email: null, passwordHash: 'x', createdAt: T0 }), UniqueViolation);
      } finally {
        await store.close();
        await fixture.cleanup?.();
      }
    });
  });
}
