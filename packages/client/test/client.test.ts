import { startTestServer, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { ChatterApi, ChatterApiError, describeMembership, type PendingChange, type PendingMessage } from '../src/index.js';
import { assertAscending, closeAllClients, memoryStore, messageBatches, recordClient, seed, texts, uniqueName, waitFor, type Recorded } from './helpers.js';

/**
 * No reconnect is planned after status `from`: the client announces every retry it schedules with
 * a \`reconnecting\` status carrying \`retryAt\`, synchronously, when it schedules it. So checking the
 * statuses proves "it will not come back" without waiting for a retry that never comes.
 */
function assertNoRetryAfter(c: Recorded, from: number): void {
  assert.ok(from >= 0, 'the status to check after was recorded');
  const planned = c.statuses.slice(from).filter((s) => s.retryAt !== undefined || s.status === 'connecting' || s.status === 'reconnecting');
  assert.deepEqual(planned, [], 'no reconnect planned');
  assert.equal(c.client.status, 'offline');
}

/** Server-side: cut every socket of a user without a closing handshake, as a network drop would. */
function dropSockets(server: TestServer, userId: number): number {
  let n = 0;
  for (const conn of server.app.gateway.hub.connections) {
    if (conn.user.id === userId) {
      conn.ws.terminate();
      n++;
    }
  }
  return n;
}

describe('ChatterClient against a real server', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000 });
  });
  after(() => server.close());
  afterEach(() => closeAllClients());

  test('connects, says hello, and two clients chat: both see every message once, in the same order', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('alice')), server.register(uniqueName('bob'))]);
    const a = recordClient(server.url, alice.token);
    const b = recordClient(server.url, bob.token);
    assert.equal(a.client.status, 'offline');
    a.client.connect();
    b.client.connect();
    assert.equal(a.statuses[0]?.status, 'connecting');
    await waitFor(() => a.client.status === 'online' && b.client.status === 'online', 'both online');
    assert.equal(a.client.user?.username, alice.username);
    assert.ok(a.client.rooms.some((r) => r.id === 'general'));
    await waitFor(() => a.resets.includes('general'), 'initial history arrives on first connect');

    a.client.send('general', '  hi bob  ');
    await waitFor(() => b.view().some((m) => m.text === 'hi bob'), 'bob gets alice');
    b.client.send('general', 'hello alice 👋');
    await waitFor(() => a.view().some((m) => m.text === 'hello alice 👋'), 'alice gets bob');
    await waitFor(() => a.client.pending().length === 0 && b.client.pending().length === 0, 'outboxes empty');
    await waitFor(() => b.view().some((m) => m.text === 'hello alice 👋'), 'bob sees his own message');

    const tail = (view: typeof a.delivered) => view.filter((m) => m.text === 'hi bob' || m.text === 'hello alice 👋');
    assert.deepEqual(texts(tail(a.delivered)), ['hi bob', 'hello alice 👋']);
    assert.deepEqual(texts(tail(b.delivered)), ['hi bob', 'hello alice 👋']);
    assertAscending(a.view(), 'alice');
    assertAscending(b.view(), 'bob');
    assert.equal(a.client.lastSeq('general'), b.client.lastSeq('general'));
    assert.equal(a.client.rooms.find((r) => r.id === 'general')!.lastSeq, a.client.lastSeq('general'));
  });

  test('presence: each sees the other online; a closed client is reported gone', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('pa')), server.register(uniqueName('pb'))]);
    const a = recordClient(server.url, alice.token);
    const b = recordClient(server.url, bob.token);
    const presenceAtAlice: string[][] = [];
    a.client.store.subscribeRoom('general', () => presenceAtAlice.push(a.client.online('general').map((u) => u.username)));
    a.client.connect();
    await waitFor(() => a.client.status === 'online', 'alice online');
    b.client.connect();
    await waitFor(() => a.client.online('general').some((u) => u.id === bob.user.id), 'alice sees bob');
    await waitFor(() => b.client.online('general').some((u) => u.id === alice.user.id), 'bob sees alice');
    b.client.close();
    assert.equal(b.client.status, 'offline');
    await waitFor(() => !a.client.online('general').some((u) => u.id === bob.user.id), 'bob gone at alice');
    assert.ok(presenceAtAlice.some((list) => list.includes(bob.username)));
  });

  test('initial history is the newest N; requestHistory pages older ones over the socket', async () => {
    const user = await server.register(uniqueName('scroll'));
    await seed(server, user.user.id, 30, 'scroll');
    const c = recordClient(server.url, user.token, { history: 20 });
    c.client.connect();
    await waitFor(() => c.resets.length === 1, 'initial history');
    const view = c.client.store.room('general')!;
    assert.deepEqual([view.messages.length, view.hasMoreOlder, view.loaded], [20, true, true]);
    const oldest = c.view()[0]!.seq;
    const page = await c.client.requestHistory('general', { before: oldest, limit: 5 });
    assert.deepEqual(page.messages.map((m) => m.seq), [oldest - 5, oldest - 4, oldest - 3, oldest - 2, oldest - 1]);
    assert.equal(page.hasMore, oldest - 5 > 1);
    assert.equal(c.client.store.room('general'), view, 'requestHistory returns the page and leaves the store alone');
    await c.client.loadOlder('general', 5);
    assert.deepEqual(c.view().slice(0, 5).map((m) => m.seq), page.messages.map((m) => m.seq), 'loadOlder puts it in the store');
    const bad = await c.client.requestHistory('general', { limit: 500 }).then(
      () => assert.fail('expected a rejection'),
      (err: unknown) => err,
    );
    assert.ok(bad instanceof ChatterApiError);
    assert.equal(bad.code, 'validation_failed');
    c.client.close();
    await assert.rejects(c.client.requestHistory('general', { before: oldest }), (err: ChatterApiError) => err.code === 'offline');
  });

  test('a join shows above the first messages, live and on a new device alike', async () => {
    const [ana, cyrus] = await Promise.all([server.register(uniqueName('ana')), server.register(uniqueName('cyrus'))]);
    const post = (token: string, path: string, json?: unknown) =>
      fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(json ?? {}) }).then((r) => r.json() as Promise<{ room: { id: string } }>);
    const a = recordClient(server.url, ana.token);
    a.client.connect();
    await waitFor(() => a.client.status === 'online', 'online');
    const room = (await post(ana.token, '/api/rooms', { name: uniqueName('plaza'), visibility: 'public' })).room.id;
    await waitFor(() => a.client.store.room(room) !== null, 'the room arrives');
    await a.client.loadRoom(room);
    await post(cyrus.token, `/api/rooms/${room}/join`);
    const lines = (c: Recorded) =>
      (c.client.store.room(room)?.timeline ?? []).map((i) => (i.kind === 'message' ? i.message.text : describeMembership(i.events, ana.user.id)));
    await waitFor(() => lines(a).length === 1, 'the join arrives');
    a.client.send(room, 'welcome');
    a.client.send(room, 'lunch at noon');
    await waitFor(() => a.view(room).length === 2, 'both messages');
    assert.deepEqual(lines(a), [`${cyrus.username} joined`, 'welcome', 'lunch at noon']);
    // A new device gets the room with its history page: the same lines.
    const fresh = recordClient(server.url, ana.token);
    fresh.client.connect();
    await waitFor(() => fresh.resets.includes(room), 'initial history of the room');
    assert.deepEqual(lines(fresh), lines(a));
  });

  test('send validates locally: empty, too long and bad room ids throw with fields', async () => {
    const user = await server.register(uniqueName('val'));
    const c = recordClient(server.url, user.token);
    assert.throws(() => c.client.send('general', '   \n '), (err: ChatterApiError) => err.code === 'validation_failed' && !!err.fields.text);
    assert.throws(() => c.client.send('general', 'x'.repeat(4001)), (err: ChatterApiError) => !!err.fields.text);
    assert.throws(() => c.client.send('Not A Room', 'hi'), (err: ChatterApiError) => !!err.fields.room);
    // The server's rule, applied before anything is queued: control characters are refused...
    assert.throws(() => c.client.send('general', 'bell \u0007'), (err: ChatterApiError) => /control characters/.test(err.fields.text ?? ''));
    // ...and the pending copy holds the text as the server will store it (NFC, LF, no lone surrogate).
    const normalized = c.client.send('general', ' cafe\u0301\r\nnext \ud800 ');
    assert.equal(normalized.text, 'caf\u00e9\nnext \ufffd');
    // 4000 emoji are 4000 characters (code points), not 8000 UTF-16 units.
    const item = c.client.send('general', '😀'.repeat(4000));
    assert.equal(item.state, 'pending');
    assert.equal(c.client.pending().length, 2);
  });

  test('outbox: messages sent while offline go out once, in order, on connect', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('oa')), server.register(uniqueName('ob'))]);
    const b = recordClient(server.url, bob.token);
    b.client.connect();
    await waitFor(() => b.client.status === 'online', 'bob online');
    const a = recordClient(server.url, alice.token);
    const sent = ['one', 'two', 'three'].map((t) => a.client.send('general', `offline ${t}`));
    assert.deepEqual(a.client.pending().map((p) => p.state), ['pending', 'pending', 'pending']);
    assert.deepEqual(a.client.pending().map((p) => p.clientId), sent.map((s) => s.clientId));
    a.client.connect();
    await waitFor(() => b.view().filter((m) => m.text.startsWith('offline ')).length === 3, 'bob gets all three');
    await waitFor(() => a.client.pending().length === 0, 'alice outbox empty');
    assert.deepEqual(texts(b.view().filter((m) => m.text.startsWith('offline '))), ['offline one', 'offline two', 'offline three']);
    assert.deepEqual(texts(a.delivered.filter((m) => m.text.startsWith('offline '))), ['offline one', 'offline two', 'offline three']);
    assertAscending(b.view(), 'bob');
    // A resent copy would reach bob before a message alice sends after them: wait for that one.
    a.client.send('general', 'marker after the outbox');
    await waitFor(() => b.view().some((m) => m.text === 'marker after the outbox'), 'bob gets the later marker');
    assert.equal(b.view().filter((m) => m.text.startsWith('offline ')).length, 3, 'nothing doubled later');
  });

  test('resume after close/connect: exactly the missed messages arrive, as one resume batch', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('ra')), server.register(uniqueName('rb'))]);
    const a = recordClient(server.url, alice.token);
    const b = recordClient(server.url, bob.token);
    a.client.connect();
    b.client.connect();
    await waitFor(() => a.client.status === 'online' && b.client.status === 'online', 'online');
    a.client.send('general', 'before');
    await waitFor(() => b.view().some((m) => m.text === 'before'), 'bob has "before"');
    b.client.close();
    const heldSeq = b.client.lastSeq('general');
    for (let i = 0; i < 5; i++) a.client.send('general', `missed ${i}`);
    await waitFor(() => a.client.pending().length === 0, 'alice stored all five');
    const resumes = messageBatches(b);
    b.client.connect();
    await waitFor(() => b.view().filter((m) => m.text.startsWith('missed ')).length === 5, 'bob caught up');
    assert.deepEqual(resumes, [[heldSeq + 1, heldSeq + 2, heldSeq + 3, heldSeq + 4, heldSeq + 5]]);
    assert.deepEqual(b.resets, ['general'], 'no second initial snapshot on resume');
    assertAscending(b.view(), 'bob');
    assert.equal(new Set(b.delivered.map((m) => m.seq)).size, b.delivered.length, 'no duplicates');
  });

  test('a dropped connection reconnects by itself and resumes without gaps or duplicates', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('da')), server.register(uniqueName('db'))]);
    const a = recordClient(server.url, alice.token);
    // Always wait the full backoff ceiling, so the messages below surely fall in the gap.
    const b = recordClient(server.url, bob.token, { reconnect: { initialDelayMs: 600, maxDelayMs: 600 }, random: () => 0.999 });
    a.client.connect();
    b.client.connect();
    await waitFor(() => a.client.status === 'online' && b.client.status === 'online', 'online');
    assert.equal(dropSockets(server, bob.user.id), 1);
    await waitFor(() => b.client.status === 'reconnecting', 'bob notices');
    const waiting = b.statuses.at(-1)!;
    assert.equal(waiting.attempt, 1);
    // Compared with when the status came, not with now: the test may see it much later on a loaded machine.
    assert.ok(waiting.retryAt! > waiting.at, 'retryAt is in the future');
    assert.equal(waiting.closeCode, 1006);
    for (let i = 0; i < 4; i++) a.client.send('general', `gap ${i}`);
    await waitFor(() => b.client.status === 'online', 'bob back');
    await waitFor(() => b.view().filter((m) => m.text.startsWith('gap ')).length === 4, 'bob has all four');
    assert.deepEqual(texts(b.delivered.filter((m) => m.text.startsWith('gap '))), ['gap 0', 'gap 1', 'gap 2', 'gap 3']);
    assert.deepEqual(b.resets, ['general'], 'resumed, not reloaded');
    assertAscending(b.view(), 'bob');
    assert.equal(b.statuses.at(-1)!.attempt, 0, 'attempts reset once online');
  });

  test('a live message after a hole is held until the hole is fetched: delivered in seq order', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('ha')), server.register(uniqueName('hb'))]);
    const a = recordClient(server.url, alice.token);
    const b = recordClient(server.url, bob.token);
    a.client.connect();
    b.client.connect();
    await waitFor(() => a.client.status === 'online' && b.client.status === 'online', 'online');
    const start = b.client.lastSeq('general');
    await seed(server, alice.user.id, 3, 'unheard'); // stored, never fanned out
    a.client.send('general', 'after the hole');
    await waitFor(() => b.view().some((m) => m.text === 'after the hole'), 'bob gets the live message');
    const fresh = b.delivered.filter((m) => m.seq > start);
    assert.deepEqual(fresh.map((m) => m.seq), [start + 1, start + 2, start + 3, start + 4]);
    assert.deepEqual(texts(fresh), ['unheard 0', 'unheard 1', 'unheard 2', 'after the hole']);
    assertAscending(b.view(), 'bob');
  });

  test('resume_gap: further behind than the replay limit, the room is dropped and its newest page loaded', async () => {
    const [alice, bob] = await Promise.all([server.register(uniqueName('ga')), server.register(uniqueName('gb'))]);
    const b = recordClient(server.url, bob.token, { history: 0 });
    b.client.connect();
    await waitFor(() => b.client.status === 'online', 'bob online');
    await b.client.loadRoom('general');
    const start = b.client.lastSeq('general');
    b.client.close();
    await seed(server, alice.user.id, 1205, 'bulk');
    const frames: string[] = [];
    b.client.on('frame', (f) => frames.push(f.type));
    b.client.connect();
    const a = recordClient(server.url, alice.token);
    a.client.connect();
    a.client.send('general', 'live during catch-up');
    await waitFor(() => b.view().some((m) => m.text === 'live during catch-up'), 'bob reloaded and live', 20_000);
    assert.ok(frames.includes('resume_gap'));
    assert.ok(b.resets.includes('general'), 'the room was reloaded');
    const view = b.client.store.room('general')!;
    assert.ok(view.messages.every((m) => m.seq > start + 1000), 'nothing of the stale past is kept');
    assert.deepEqual(texts(view.messages.slice(-3)), ['bulk 1203', 'bulk 1204', 'live during catch-up']);
    assert.equal(view.hasMoreOlder, true);
    assertAscending(view.messages, 'bob after the gap');
    assert.equal(b.client.lastSeq('general'), a.client.lastSeq('general'));
  });

  test('session_ended on logout: status offline, no reconnect attempts afterwards', async () => {
    const user = await server.register(uniqueName('lo'));
    const c = recordClient(server.url, user.token);
    c.client.connect();
    await waitFor(() => c.client.status === 'online', 'online');
    await new ChatterApi({ baseUrl: server.url, token: user.token }).logout();
    await waitFor(() => c.sessionEnded.length === 1, 'session_ended');
    assert.equal(c.sessionEnded[0]!.code, 4002);
    assert.equal(c.client.status, 'offline');
    assertNoRetryAfter(c, c.statuses.findIndex((s) => s.closeCode === 4002));
    assert.equal(c.sessionEnded.length, 1);
  });

  test('an unknown token ends the session at once (4001), with either token transport', async () => {
    for (const tokenTransport of ['header', 'frame'] as const) {
      const c = recordClient(server.url, 'not-a-real-token', { tokenTransport });
      c.client.connect();
      await waitFor(() => c.sessionEnded.length === 1, `session_ended via ${tokenTransport}`);
      assert.equal(c.sessionEnded[0]!.code, 4001);
      assert.equal(c.statuses.filter((s) => s.status === 'connecting' || s.status === 'reconnecting').length, 1, 'one attempt only');
      assertNoRetryAfter(c, c.statuses.findIndex((s) => s.closeCode === 4001));
    }
  });

  test('a test waiting on a client whose session ends fails at once, with the close code', async () => {
    const c = recordClient(server.url, 'not-a-real-token');
    c.client.connect();
    // Not a timeout: that would say "timed out after".
    await assert.rejects(waitFor(() => c.client.status === 'online', 'online', 8000), /waiting for: online: a client's session ended \(close 4001 /);
  });

  test('the first-frame auth transport chats like the header one', async () => {
    const user = await server.register(uniqueName('ff'));
    const c = recordClient(server.url, user.token, { tokenTransport: 'frame' });
    c.client.connect();
    await waitFor(() => c.client.status === 'online', 'online');
    c.client.send('general', 'via auth frame');
    await waitFor(() => c.view().some((m) => m.text === 'via auth frame') && c.client.pending().length === 0, 'own message back');
    // Watch the events, not the state: the reconnect can finish between two polls.
    const statuses: string[] = [];
    c.client.on('status', (e) => statuses.push(e.status));
    dropSockets(server, user.user.id);
    await waitFor(() => statuses.includes('reconnecting'), 'dropped');
    c.client.send('general', 'resumed via auth frame');
    await waitFor(() => c.view().some((m) => m.text === 'resumed via auth frame'), 'after reconnect');
    assertAscending(c.view());
    assert.deepEqual(c.errors, []);
  });

  test('refused sends fail without retrying forever; retry and discard manage them', async () => {
    const user = await server.register(uniqueName('ref'));
    // A message restored from storage that the server refuses (too long): validation_failed.
    const tooLong: PendingMessage = { kind: 'send', clientId: `long-${Date.now()}`, room: 'general', text: 'y'.repeat(4001), createdAt: new Date().toISOString(), state: 'pending' };
    const c = recordClient(server.url, user.token, { outboxStore: memoryStore([tooLong]) });
    const stray = c.client.send('nowhere', 'to a room I am not in');
    const fine = c.client.send('general', 'this one is fine');
    c.client.connect();
    await waitFor(() => c.view().some((m) => m.text === 'this one is fine'), 'the good message is not blocked');
    await waitFor(() => c.client.pending().every((p) => p.state === 'failed'), 'the other two failed');
    const byId = new Map(c.client.pending().map((p) => [p.clientId, p]));
    assert.equal(byId.size, 2);
    assert.ok(byId.get(tooLong.clientId)?.error, 'failure carries the server sentence');
    assert.ok(byId.get(stray.clientId)?.error);
    assert.ok(!byId.has(fine.clientId));
    assert.deepEqual(c.errors.map((e) => e.code).sort(), ['room_not_found', 'validation_failed']);
    // The outbox goes out in order: an automatic retry of the failed two would be refused before a
    // later message is stored. Wait for a later one.
    c.client.send('general', 'marker after the refusals');
    await waitFor(() => c.view().some((m) => m.text === 'marker after the refusals') && c.client.pending().every((p) => p.state === 'failed'), 'the marker is stored');
    assert.equal(c.errors.length, 2, 'no automatic retries');
    assert.equal(c.client.retry(stray.clientId), true);
    await waitFor(() => c.errors.length === 3, 'retried once');
    assert.equal(c.client.pending().find((p) => p.clientId === stray.clientId)?.state, 'failed');
    assert.equal(c.client.discard(stray.clientId), true);
    assert.equal(c.client.discard(tooLong.clientId), true);
    assert.deepEqual(c.client.pending(), []);
    assert.equal(c.client.retry('no-such-id'), false);
  });

  test('persisted outbox: a message restored after a "reload" is resent with its clientId and never doubled', async () => {
    const user = await server.register(uniqueName('pers'));
    const store = memoryStore();
    let snapshotWhileSending: PendingChange[] = [];
    const first = recordClient(server.url, user.token, { outboxStore: store });
    first.client.on('outbox', (items) => {
      if (items.some((i) => i.state === 'sending')) snapshotWhileSending = store.load();
    });
    first.client.connect();
    await waitFor(() => first.client.status === 'online', 'online');
    const item = first.client.send('general', 'sent just before the reload');
    await waitFor(() => first.client.pending().length === 0, 'stored and delivered');
    assert.deepEqual(store.items, [], 'the store empties too');
    first.client.close();
    assert.equal(snapshotWhileSending.length, 1);

    // The page reloaded from a snapshot taken while the message was on the wire. (No initial
    // history, so the message is not settled by the snapshot and must really be resent.)
    const reloaded = recordClient(server.url, user.token, { outboxStore: memoryStore(snapshotWhileSending), history: 0 });
    assert.deepEqual(reloaded.client.pending().map((p) => [p.clientId, p.state]), [[item.clientId, 'pending']]);
    const acks: boolean[] = [];
    reloaded.client.on('ack', (a) => acks.push(a.duplicate));
    reloaded.client.connect();
    await waitFor(() => reloaded.client.pending().length === 0, 'resent and settled');
    assert.deepEqual(acks, [true]);
    reloaded.client.close();

    // With initial history, the restored message is found in the snapshot and settled from it.
    const again = recordClient(server.url, user.token, { outboxStore: memoryStore(snapshotWhileSending) });
    again.client.connect();
    await waitFor(() => again.client.pending().length === 0, 'settled by the snapshot or a duplicate ack');
    assert.equal(again.view().filter((m) => m.clientId === item.clientId).length, 1);
    const page = await new ChatterApi({ baseUrl: server.url, token: user.token }).history('general', { limit: 100 });
    assert.equal(page.messages.filter((m) => m.clientId === item.clientId).length, 1);
  });

  test('close() stops everything: offline, no reconnect, connect() again resumes', async () => {
    const user = await server.register(uniqueName('cl'));
    const c = recordClient(server.url, user.token);
    c.client.connect();
    c.client.connect(); // idempotent
    await waitFor(() => c.client.status === 'online', 'online');
    assert.equal(c.statuses.filter((s) => s.status === 'connecting').length, 1);
    const closedAt = c.statuses.length;
    c.client.close();
    assert.equal(c.client.status, 'offline');
    assertNoRetryAfter(c, closedAt);
    c.client.connect();
    await waitFor(() => c.client.status === 'online', 'online again');
    assert.deepEqual(c.resets, ['general'], 'resumed, not restarted');
  });
});

describe('ChatterClient under the server rate limit', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ messagesPerSecond: 20, messageBurst: 2 });
  });
  after(() => server.close());
  afterEach(() => closeAllClients());

  test('rate_limited sends wait for retryAfter and go out in order, each once', async () => {
    const user = await server.register(uniqueName('rl'));
    const c = recordClient(server.url, user.token);
    c.client.connect();
    await waitFor(() => c.client.status === 'online', 'online');
    const start = c.client.lastSeq('general');
    for (let i = 0; i < 8; i++) c.client.send('general', `burst ${i}`);
    await waitFor(() => c.client.pending().length === 0, 'all delivered', 15_000);
    assert.ok(c.errors.some((e) => e.code === 'rate_limited'), 'the limit was hit');
    const fresh = c.delivered.filter((m) => m.seq > start);
    assert.deepEqual(texts(fresh), Array.from({ length: 8 }, (_, i) => `burst ${i}`));
    assertAscending(fresh);
  });
});
