/**
 * The store's apply rules (docs/architecture.md, "The room event log"), on hand-written events:
 * the log is the seam, so these tests are the events a server sends, in the orders it may send them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Message, MessageBody, MyRoom, PublicUser, RoomEvent, SelfUser } from '@chatter/protocol';
import { ChatterStore, describeMembership, describeTyping, type MembershipEvent, type RoomView } from '../src/index.js';

const me: SelfUser = { id: 1, username: 'me', avatarUrl: null, email: null, createdAt: '2026-01-01T00:00:00Z' };
const ana: PublicUser = { id: 2, username: 'ana', avatarUrl: null };
const bo: PublicUser = { id: 3, username: 'bo', avatarUrl: null };
const at = '2026-01-01T10:00:00Z';

function room(id: string, over: Partial<MyRoom> = {}): MyRoom {
  return {
    id,
    kind: 'channel',
    name: id,
    topic: '',
    visibility: 'public',
    archived: false,
    createdAt: at,
    lastSeq: 0,
    memberCount: 3,
    members: [],
    role: 'member',
    readSeq: 0,
    unread: 0,
    mentions: 0,
    notify: 'all',
    lastActivityAt: at,
    ...over,
  };
}

function message(seq: number, author: PublicUser, text: string, over: Partial<Message> = {}): Message {
  return {
    id: 1000 + seq,
    room: 'general',
    seq,
    author,
    text,
    clientId: `c${seq}`,
    createdAt: at,
    version: seq,
    editedAt: null,
    deleted: false,
    mentions: [],
    reactions: [],
    ...over,
  };
}

const base = (seq: number) => ({ room: 'general', seq, at, actorId: null });
const created = (m: Message): RoomEvent => ({ ...base(m.seq), kind: 'message_created', actorId: m.author.id, message: m });
const body = (m: Message, over: Partial<MessageBody> = {}): MessageBody => ({
  id: m.id,
  seq: m.seq,
  authorId: m.author.id,
  text: m.text,
  editedAt: m.editedAt,
  deleted: m.deleted,
  mentions: m.mentions,
  ...over,
});
const edited = (seq: number, m: Message, text: string): RoomEvent => ({ ...base(seq), kind: 'message_edited', message: body(m, { text, editedAt: at }) });
const deleted = (seq: number, m: Message): RoomEvent => ({ ...base(seq), kind: 'message_deleted', message: body(m, { text: '', deleted: true, mentions: [] }) });
const reacted = (seq: number, m: Message, userId: number, count: number, on = true): RoomEvent => ({
  ...base(seq),
  kind: on ? 'reaction_added' : 'reaction_removed',
  messageId: m.id,
  messageSeq: m.seq,
  emoji: '👍',
  userId,
  count,
});
const hidden = (seq: number): RoomEvent => ({ ...base(seq), kind: 'hidden' });
const joined = (seq: number, user: PublicUser): MembershipEvent => ({ ...base(seq), kind: 'member_joined', user, role: 'member' });
const left = (seq: number, user: PublicUser): MembershipEvent => ({ ...base(seq), kind: 'member_left', user });

function storeWith(lastSeq = 0, over: Partial<MyRoom> = {}): ChatterStore {
  const store = new ChatterStore();
  store.hello(me, [room('general', { lastSeq, ...over }), room('other')]);
  store.commit();
  return store;
}

/** What a user sees of a room, without identities: equal states compare equal. */
function shown(view: RoomView | null) {
  assert.ok(view);
  return {
    messages: view.messages.map((m) => ({ id: m.id, seq: m.seq, text: m.text, deleted: m.deleted, editedAt: m.editedAt, version: m.version, reactions: m.reactions })),
    unread: view.info.unread,
    mentions: view.info.mentions,
    applied: view.applied,
  };
}

/** A room's timeline as its lines: message texts and folded membership runs. */
function lines(view: RoomView | null): string[] {
  assert.ok(view);
  return view.timeline.map((i) => (i.kind === 'message' ? i.message.text : describeMembership(i.events, me.id)));
}

describe('ChatterStore apply rules', () => {
  const m1 = message(1, ana, 'hello');
  const m2 = message(2, bo, 'hi');
  const log: RoomEvent[] = [created(m1), created(m2), edited(3, m1, 'hello!'), reacted(4, m2, 2, 1), hidden(5), reacted(6, m2, 1, 2), deleted(7, m2)];

  test('an event applied twice changes nothing the second time', () => {
    const once = storeWith();
    once.receive('general', log);
    const twice = storeWith();
    twice.receive('general', log);
    twice.receive('general', log);
    for (const e of log) twice.receive('general', [e]);
    assert.deepEqual(shown(twice.room('general')), shown(once.room('general')));
    assert.equal(once.room('general')!.applied, 7, 'hidden keeps the seqs contiguous');
    assert.deepEqual(once.room('general')!.messages.map((m) => [m.text, m.deleted]), [['hello!', false], ['', true]]);
  });

  test('a page then an event, or the event then the page: the same state', () => {
    // The page was read after the edit (version 3); the edit event arrives before or after it.
    const page = { messages: [message(1, ana, 'hello!', { version: 3, editedAt: at }), message(2, bo, 'hi')], hasMore: false, lastSeq: 3 };
    const pageFirst = storeWith();
    pageFirst.applyPage('general', page, 'newest');
    pageFirst.receive('general', log.slice(0, 3));
    const eventsFirst = storeWith();
    eventsFirst.receive('general', log.slice(0, 3));
    eventsFirst.applyPage('general', page, 'newest');
    assert.deepEqual(shown(pageFirst.room('general')), shown(eventsFirst.room('general')));
    assert.equal(pageFirst.room('general')!.messages[0]!.text, 'hello!');

    // An older page (read before the edit) never undoes the edit it does not know about.
    const stale = { messages: [message(1, ana, 'hello'), message(2, bo, 'hi')], hasMore: false, lastSeq: 2 };
    eventsFirst.applyPage('general', stale, 'older');
    assert.equal(eventsFirst.room('general')!.messages[0]!.text, 'hello!');
    assert.equal(eventsFirst.room('general')!.messages[0]!.version, 3);
  });

  test('a replay (current bodies, reactions after) converges on the live state', () => {
    const live = storeWith();
    live.receive('general', log);
    // Replayed, a created event carries the text as it is now and no reactions.
    const replay: RoomEvent[] = [
      created({ ...m1, text: 'hello!', editedAt: at, version: 3 }),
      created({ ...m2, text: '', deleted: true, version: 7 }),
      ...log.slice(2),
    ];
    const resumed = storeWith();
    resumed.receive('general', replay);
    assert.deepEqual(shown(resumed.room('general')), shown(live.room('general')));
  });

  test('a missing seq is a lost event: later ones wait, and gapAfter says where to resume', () => {
    const store = storeWith();
    store.receive('general', [log[0]!]);
    const applied = store.receive('general', [log[2]!, log[3]!]);
    assert.deepEqual(applied, [], 'nothing applies past the hole');
    assert.equal(store.gapAfter('general'), 1);
    assert.equal(store.room('general')!.applied, 1);
    const filled = store.receive('general', [log[1]!, log[2]!]);
    assert.deepEqual(filled.map((e) => e.seq), [2, 3, 4]);
    assert.equal(store.gapAfter('general'), null);
  });

  test('unread: +1 for a new message of someone else after the read position, -1 when it is deleted', () => {
    const store = storeWith(0, { readSeq: 0 });
    const mine = message(3, { id: me.id, username: me.username, avatarUrl: null }, 'mine');
    const mention = message(4, ana, '@me look', { mentions: [me.id] });
    store.receive('general', [created(m1), created(m2), created(mine), created(mention)]);
    assert.equal(store.room('general')!.info.unread, 3, 'own messages never count');
    assert.equal(store.room('general')!.info.mentions, 1);
    store.receive('general', [deleted(5, m2), deleted(6, mention)]);
    assert.equal(store.room('general')!.info.unread, 1, 'a deleted unread message stops counting');
    assert.equal(store.room('general')!.info.mentions, 0);
    store.receive('general', [deleted(6, mention)]);
    assert.equal(store.room('general')!.info.unread, 1, 'a repeated delete counts once');
  });

  test("events the server's counts already include (a resume replay) do not count again", () => {
    // hello: the room is at seq 2 with 2 unread, both replayed on resume.
    const store = new ChatterStore();
    store.hello(me, [room('general', { lastSeq: 0 })]);
    store.hello(me, [room('general', { lastSeq: 2, unread: 2 })]);
    store.receive('general', [created(m1), created(m2)]);
    assert.equal(store.room('general')!.info.unread, 2);
    store.receive('general', [created(message(3, ana, 'new'))]);
    assert.equal(store.room('general')!.info.unread, 3);
  });

  test("read_state counts hold through its lastSeq: an event they include that arrives after them does not count again", () => {
    // Another device read through 2 just after ana's message 3 was stored: the server counted 3, and
    // its own socket's frames (read_state) go out before the room's (the event).
    const store = storeWith(2, { readSeq: 0, unread: 2 });
    store.setReadState('general', { readSeq: 2, unread: 1, mentions: 0, lastSeq: 3 });
    store.receive('general', [created(message(3, ana, 'new'))]);
    assert.equal(store.room('general')!.info.unread, 1, 'counted by the server already');
    store.receive('general', [created(message(4, bo, 'newer'))]);
    assert.equal(store.room('general')!.info.unread, 2, 'a later message counts as usual');
  });

  test('read_state counts read before an event the store has counted: that event still counts', () => {
    const store = storeWith(2, { readSeq: 0, unread: 2 });
    store.receive('general', [created(message(3, ana, '@me new', { mentions: [me.id] }))]);
    assert.equal(store.room('general')!.info.unread, 3);
    store.setReadState('general', { readSeq: 2, unread: 0, mentions: 0, lastSeq: 2 });
    assert.equal(store.room('general')!.info.unread, 1, 'message 3 is after the position and after the counts');
    assert.equal(store.room('general')!.info.mentions, 1);
    assert.equal(store.room('general')!.info.readSeq, 2);
  });

  test("read_state older than a connection's hello (sent before hello read the rooms, delivered after it) changes nothing", () => {
    // Bo's 3 was unread, then deleted at 4. Another device's read through 1 was stored with the
    // counts as of 3, and reached this socket only after hello (which read both, and 4).
    const store = storeWith(4, { readSeq: 1, unread: 1 });
    store.applyPage('general', { messages: [message(2, ana, 'unread'), message(3, bo, '', { deleted: true, text: '', version: 4 })], hasMore: false, lastSeq: 4 }, 'replace');
    store.setReadState('general', { readSeq: 1, unread: 2, mentions: 0, lastSeq: 3 });
    assert.deepEqual([store.room('general')!.info.unread, store.room('general')!.info.readSeq], [1, 1], "hello's counts stand");
  });

  test("room_joined older than a connection's hello leaves the newer state alone", () => {
    const store = storeWith(5, { readSeq: 3, unread: 2, name: 'renamed since' });
    store.setPresence('general', [ana], 1);
    store.joinRoom(room('general', { lastSeq: 3, readSeq: 3, unread: 0 }));
    const info = store.room('general')!.info;
    assert.deepEqual([info.unread, info.readSeq, info.lastSeq, info.name], [2, 3, 5, 'renamed since']);
    assert.deepEqual(store.room('general')!.online, [ana], 'the presence sent after hello stands');
    store.joinRoom(room('general', { lastSeq: 6, readSeq: 3, unread: 3 }));
    assert.equal(store.room('general')!.info.unread, 3, 'a newer one replaces it');
  });

  test("hello replaces a held room even when its log is shorter (a restored server); the room list follows the new page", () => {
    const store = storeWith(4, { readSeq: 4 });
    store.applyPage('general', { messages: [message(4, ana, 'old log')], hasMore: true, lastSeq: 4 }, 'replace');
    const listBefore = store.rooms();
    store.hello(me, [room('general', { lastSeq: 1, readSeq: 1, unread: 0 }), room('other')]);
    assert.equal(store.room('general')!.info.readSeq, 1, "hello's state, not the old server's");
    store.resetRoom('general');
    store.applyPage('general', { messages: [], hasMore: false, lastSeq: 1 }, 'replace');
    store.commit();
    assert.notEqual(store.rooms(), listBefore);
    assert.equal(store.rooms().find((r) => r.id === 'general')!.lastSeq, 1);
  });

  test('read_state older than a deletion the store applied, with a newer position: the deleted message stops counting', () => {
    const store = storeWith(1, { readSeq: 0, unread: 1 });
    const m2 = message(2, ana, 'two');
    const m3 = message(3, bo, 'three');
    store.applyPage('general', { messages: [message(1, ana, 'one')], hasMore: false, lastSeq: 1 }, 'replace');
    store.receive('general', [created(m2), created(m3), deleted(4, m3)]);
    assert.equal(store.room('general')!.info.unread, 2);
    // Read through 1 elsewhere, counted when 2 and 3 were stored and 3 not yet deleted.
    store.setReadState('general', { readSeq: 1, unread: 2, mentions: 0, lastSeq: 3 });
    assert.equal(store.room('general')!.info.unread, 1, 'only 2 is unread');
  });

  test('reset: held messages go, live events wait for the new page, then apply after it', () => {
    const store = storeWith();
    store.receive('general', log.slice(0, 2));
    store.resetRoom('general');
    assert.deepEqual(store.room('general')!.messages, []);
    store.receive('general', [created(message(9, ana, 'later'))]);
    assert.equal(store.room('general')!.messages.length, 0, 'held until the page sets the baseline');
    const applied = store.applyPage('general', { messages: [message(8, bo, 'page')], hasMore: true, lastSeq: 8 }, 'replace');
    assert.deepEqual(applied.map((e) => e.seq), [9]);
    assert.deepEqual(store.room('general')!.messages.map((m) => m.text), ['page', 'later']);
    assert.equal(store.room('general')!.hasMoreOlder, true);
  });

  test('a reaction in one room notifies that room only; the room list only when its summary changes', () => {
    const store = storeWith();
    store.receive('general', [created(m1)]);
    store.commit();
    const calls = { general: 0, other: 0, list: 0 };
    store.subscribeRoom('general', () => calls.general++);
    store.subscribeRoom('other', () => calls.other++);
    store.subscribeRooms(() => calls.list++);
    const otherBefore = store.room('other');
    const listBefore = store.rooms();
    store.receive('general', [reacted(2, m1, 3, 1)]);
    store.commit();
    assert.deepEqual(calls, { general: 1, other: 0, list: 0 });
    assert.equal(store.room('other'), otherBefore, 'the other room keeps its snapshot');
    assert.equal(store.rooms(), listBefore);
    assert.deepEqual(store.room('general')!.messages[0]!.reactions, [{ emoji: '👍', count: 1, users: [3] }]);
    store.receive('general', [created(message(3, ana, 'new'))]);
    store.commit();
    assert.deepEqual(calls, { general: 2, other: 0, list: 1 }, 'a new message changes the unread count');
  });

  test("a room's last activity is its latest message time, as the server keeps it, even when times do not rise with seq", () => {
    const store = storeWith();
    const first = message(1, ana, 'later stamped', { createdAt: '2026-01-01T10:00:00.061Z' });
    store.receive('general', [{ ...created(first), at: first.createdAt }]);
    // Stamped when its request arrived, sequenced after the one above.
    const second = message(2, bo, 'earlier stamped', { createdAt: '2026-01-01T10:00:00.060Z' });
    store.receive('general', [{ ...created(second), at: second.createdAt }]);
    store.commit();
    assert.equal(store.room('general')!.info.lastActivityAt, '2026-01-01T10:00:00.061Z');
  });

  test('presence news that changes nothing wakes nobody; a new picture or a real change does', () => {
    const store = storeWith();
    store.setPresence('general', [ana], 1);
    store.commit();
    let wakes = 0;
    store.subscribeRoom('general', () => wakes++);
    // The server's presence batch may repeat what this socket's snapshot already said.
    store.setOnline('general', ana, true);
    store.setOnline('general', bo, false);
    store.commit();
    assert.equal(wakes, 0, 'ana already online, bo already offline');
    store.setOnline('general', { ...ana, avatarUrl: '/avatars/ana-2.webp' }, true);
    store.commit();
    assert.equal(wakes, 1, 'the same user with a new picture');
    store.setOnline('general', ana, false);
    store.commit();
    assert.equal(wakes, 2);
    assert.deepEqual(store.room('general')!.online, []);
  });

  test('typing expires after expiresInMs, and stops at once with that user\'s next message', () => {
    let now = 0;
    const store = new ChatterStore({ now: () => now });
    store.hello(me, [room('general')]);
    store.setTyping('general', ana, 5000);
    store.setTyping('general', bo, 5000);
    assert.equal(describeTyping(store.room('general')!.typing), 'ana and bo are typing…');
    store.receive('general', [created(m1)]);
    store.commit();
    assert.deepEqual(store.room('general')!.typing.map((u) => u.username), ['bo']);
    now = 6000;
    store.setTyping('general', ana, 5000); // expiry is checked whenever typing changes, and by a timer
    store.commit();
    assert.deepEqual(store.room('general')!.typing.map((u) => u.username), ['ana']);
    store.dispose();
  });

  test('membership events fold into one timeline line; presence never enters the timeline', () => {
    const store = storeWith();
    store.receive('general', [created(m1), joined(2, ana), joined(3, bo), left(4, ana), created(message(5, bo, 'hey'))]);
    store.setOnline('general', ana, true);
    store.commit();
    const timeline = store.room('general')!.timeline;
    assert.deepEqual(timeline.map((i) => i.kind), ['message', 'membership', 'message']);
    const run = timeline[1]!;
    assert.ok(run.kind === 'membership');
    assert.equal(describeMembership(run.events), 'ana and bo joined; ana left');
    const many = Array.from({ length: 14 }, (_, i) => ({ ...base(i + 1), kind: 'member_joined' as const, user: { id: 10 + i, username: `u${i}`, avatarUrl: null }, role: 'member' as const }));
    assert.equal(describeMembership(many), 'u0, u1 and 12 others joined');
    assert.equal(describeMembership(many.slice(0, 4), 10, true), 'You, u1, u2 and u3 joined', 'everyone named, for the tooltip');
  });

  test('a fully loaded room keeps its joined line above its first message, loaded or only live', () => {
    const cyrus: PublicUser = { id: 4, username: 'cyrus', avatarUrl: null };
    const loaded = storeWith(2);
    loaded.applyPage('general', { messages: [], hasMore: false, lastSeq: 2, membership: [] }, 'newest');
    const live = storeWith(2);
    for (const store of [loaded, live]) {
      store.receive('general', [joined(3, cyrus)]);
      store.commit();
      assert.deepEqual(lines(store.room('general')), ['cyrus joined']);
      store.receive('general', [created(message(4, me, 'welcome')), created(message(5, me, 'lunch'))]);
      store.commit();
      assert.deepEqual(lines(store.room('general')), ['cyrus joined', 'welcome', 'lunch']);
    }
    // A page of the room's start carries the joins before its first message: they go on top.
    const reloaded = storeWith(5);
    reloaded.applyPage('general', { messages: [message(4, me, 'welcome'), message(5, me, 'lunch')], hasMore: false, lastSeq: 5, membership: [joined(3, cyrus)] }, 'replace');
    reloaded.commit();
    assert.deepEqual(lines(reloaded.room('general')), ['cyrus joined', 'welcome', 'lunch']);
  });

  test('a membership event from a page and live, in either order or twice, is one line', () => {
    const page = { messages: [message(1, ana, 'hello')], hasMore: false, lastSeq: 3, membership: [joined(2, bo), left(3, ana)] };
    const events = [joined(2, bo), left(3, ana), created(message(4, bo, 'hi'))];
    const pageFirst = storeWith(1);
    pageFirst.applyPage('general', page, 'newest');
    pageFirst.receive('general', events);
    pageFirst.applyPage('general', page, 'newest');
    const liveFirst = storeWith(1);
    liveFirst.receive('general', events);
    liveFirst.applyPage('general', page, 'newest');
    for (const store of [pageFirst, liveFirst]) {
      store.commit();
      const view = store.room('general')!;
      assert.deepEqual(lines(view), ['hello', 'bo joined; ana left', 'hi']);
      assert.deepEqual(view.timeline.flatMap((i) => (i.kind === 'membership' ? i.events.map((e) => e.seq) : [])), [2, 3]);
    }
    // The counts move once, with the event, not with the page.
    assert.equal(pageFirst.room('general')!.info.memberCount, liveFirst.room('general')!.info.memberCount);
  });

  test('room events change the room; leaving forgets its messages', () => {
    const store = storeWith();
    store.receive('general', [created(m1), { ...base(2), kind: 'room_renamed', name: 'lobby' }, { ...base(3), kind: 'room_archived', archived: true }]);
    store.commit();
    assert.equal(store.room('general')!.info.name, 'lobby');
    assert.equal(store.room('general')!.info.archived, true);
    store.leaveRoom('general');
    store.commit();
    assert.equal(store.room('general'), null);
    assert.equal(store.message(m1.id), undefined);
    assert.deepEqual(store.rooms().map((r) => r.id), ['other']);
  });
});

describe('ChatterStore and the outbox', () => {
  test('changes queued before hello show in their room once it is known', () => {
    const store = new ChatterStore();
    store.setPending([{ kind: 'send', clientId: 'a', room: 'general', text: 'offline', createdAt: at, state: 'pending' }]);
    store.hello(me, [room('general'), room('other')]);
    assert.deepEqual(store.room('general')!.pending.map((p) => p.clientId), ['a']);
    assert.deepEqual(store.room('other')!.pending, []);
  });
});
