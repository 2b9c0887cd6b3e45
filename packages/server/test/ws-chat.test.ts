import { CLOSE_CODES, LIMITS, type Message, type RoomEvent } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { seedMessages } from './seed.js';
import { slowStore } from './slow-store.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

const seed = seedMessages;

function seqs(messages: Message[]): number[] {
  return messages.map((m) => m.seq);
}

/** The messages an `events` reply creates, as their `message_created` events carry them. */
function created(events: RoomEvent[]): Message[] {
  return events.flatMap((e) => (e.kind === 'message_created' ? [e.message] : []));
}

describe('chat over WebSocket', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000 });
  });
  after(() => server.close());

  test('two clients chat both ways; ack comes before the fan-out and carries the seq', async () => {
    const alice = await server.register(uniqueName('alice'));
    const bob = await server.register(uniqueName('bob'));
    const a = connect(server.wsUrl, { token: alice.token });
    const b = connect(server.wsUrl, { token: bob.token });
    await a.next('hello');
    await b.next('hello');
    a.send({ type: 'send', room: 'general', clientId: 'a-1', text: '  hi bob  ' });
    const ack = await a.next('ack');
    const atBob = await b.nextMessage((f) => f.clientId === 'a-1');
    assert.equal(atBob.text, 'hi bob', 'text is trimmed');
    assert.equal(atBob.seq, ack.seq);
    assert.equal(atBob.id, ack.messageId);
    assert.equal(atBob.author.username, alice.username);
    assert.equal(ack.duplicate, false);
    // The sender receives its own message too, after the ack.
    const own = await a.nextMessage((f) => f.clientId === 'a-1');
    const ownAt = a.frames.findIndex((f) => f.type === 'event' && f.event.kind === 'message_created' && f.event.message.id === own.id);
    assert.ok(a.frames.indexOf(ack) < ownAt, 'ack precedes the fan-out');

    b.send({ type: 'send', room: 'general', clientId: 'b-1', text: 'hello alice 👋' });
    const reply = await a.nextMessage((f) => f.clientId === 'b-1');
    assert.equal(reply.text, 'hello alice 👋');
    assert.equal(reply.seq, ack.seq! + 1);
    await Promise.all([a.close(), b.close()]);
  });

  test('twenty clients chatting: everyone receives every message once, in the same order', async () => {
    const users = await Promise.all(Array.from({ length: 20 }, () => server.register(uniqueName('crowd'))));
    const sockets = users.map((u) => connect(server.wsUrl, { token: u.token, params: { history: '0' } }));
    await Promise.all(sockets.map((s) => s.next('hello')));
    const perSender = 5;
    sockets.forEach((s, i) => {
      for (let j = 0; j < perSender; j++) s.send({ type: 'send', room: 'general', clientId: `crowd-${i}-${j}`, text: `from ${i} #${j}` });
    });
    const expected = users.length * perSender;
    const received = await Promise.all(
      sockets.map((s) => s.waitMessages(expected).then((all) => all.filter((f) => f.clientId.startsWith('crowd-')))),
    );
    const reference = received[0]!.map((f) => f.seq);
    assert.equal(reference.length, expected);
    assert.equal(new Set(reference).size, expected, 'no duplicates');
    for (let k = 1; k < reference.length; k++) assert.equal(reference[k], reference[k - 1]! + 1, 'contiguous, ascending seqs');
    for (const list of received) assert.deepEqual(list.map((f) => f.seq), reference);
    // Each sender's own messages keep their send order.
    for (let i = 0; i < users.length; i++) {
      const mine = received[0]!.filter((f) => f.author.id === users[i]!.user.id).map((f) => f.text);
      assert.deepEqual(mine, Array.from({ length: perSender }, (_, j) => `from ${i} #${j}`));
    }
    await Promise.all(sockets.map((s) => s.close()));
  });

  test('history on connect: the newest 50 of general, oldest first, with hasMore', async () => {
    const carol = await server.register(uniqueName('carol'));
    await seed(server, carol, 60, 'hist');
    const s = connect(server.wsUrl, { token: carol.token });
    const hello = await s.next('hello');
    const history = await s.next('history');
    assert.equal(history.reason, 'initial');
    assert.equal(history.messages.length, LIMITS.historyOnConnect);
    assert.equal(history.hasMore, true);
    const latest = hello.rooms[0]!.lastSeq;
    assert.deepEqual(seqs(history.messages), Array.from({ length: 50 }, (_, i) => latest - 49 + i));
    // Paging back over the socket continues exactly where the first page stopped.
    s.send({ type: 'history', room: 'general', before: history.messages[0]!.seq, limit: 10, ref: 'older' });
    const older = await s.next('history', (f) => f.ref === 'older');
    assert.equal(older.reason, 'request');
    assert.deepEqual(seqs(older.messages), Array.from({ length: 10 }, (_, i) => latest - 59 + i));
    await s.close();
    const few = connect(server.wsUrl, { token: carol.token, params: { history: '5' } });
    assert.equal((await few.next('history')).messages.length, 5);
    await few.close();
  });

  test('presence: several tabs announce a user once; they leave when the last tab closes', async () => {
    const watcher = await server.register(uniqueName('watch'));
    const dana = await server.register(uniqueName('dana'));
    const w = connect(server.wsUrl, { token: watcher.token, params: { history: '0' } });
    await w.next('hello');
    const presence = await w.next('presence');
    assert.ok(presence.users.some((u) => u.id === watcher.user.id));
    const tab1 = connect(server.wsUrl, { token: dana.token, params: { history: '0' } });
    await w.next('user_joined', (f) => f.user.id === dana.user.id);
    const tab2 = connect(server.wsUrl, { token: dana.token, params: { history: '0' } });
    const tab2Presence = await tab2.next('presence');
    assert.equal(tab2Presence.users.filter((u) => u.id === dana.user.id).length, 1, 'listed once');
    await tab1.close();
    // A later arrival as the marker: any announcement about dana's first tab would come before it.
    const marker = await server.register(uniqueName('mark'));
    const m = connect(server.wsUrl, { token: marker.token, params: { history: '0' } });
    await w.next('user_joined', (f) => f.user.id === marker.user.id);
    assert.equal(w.all('user_joined').filter((f) => f.user.id === dana.user.id).length, 1, 'second tab not announced');
    assert.equal(w.all('user_left').filter((f) => f.user.id === dana.user.id).length, 0, 'still online via tab 2');
    await tab2.close();
    const left = await w.next('user_left', (f) => f.user.id === dana.user.id);
    assert.equal(left.room, 'general');
    await Promise.all([w.close(), m.close()]);
  });

  test('presence is announced in batches; a quick reconnect is not announced at all', async () => {
    const watcher = await server.register(uniqueName('watch'));
    const kim = await server.register(uniqueName('kim'));
    const crowd = await Promise.all(Array.from({ length: 5 }, () => server.register(uniqueName('storm'))));
    const w = connect(server.wsUrl, { token: watcher.token, params: { history: '0' } });
    await w.next('hello');
    const k1 = connect(server.wsUrl, { token: kim.token, params: { history: '0' } });
    await w.next('user_joined', (f) => f.user.id === kim.user.id);
    // Kim's connection drops and comes back within the window: no "left", no second "joined".
    await k1.close();
    const k2 = connect(server.wsUrl, { token: kim.token, params: { history: '0' } });
    await k2.next('hello');
    // Five users arriving together are announced in one WebSocket message.
    const messagesBefore = w.frames.length;
    let wsMessages = 0;
    w.ws.on('message', () => wsMessages++);
    const storm = crowd.map((u) => connect(server.wsUrl, { token: u.token, params: { history: '0' } }));
    await Promise.all(storm.map((s) => s.next('hello')));
    await w.waitCount('user_joined', 1 + 5);
    assert.ok(w.frames.length >= messagesBefore + 5);
    assert.ok(wsMessages <= 2, `5 joins arrived in ${wsMessages} WebSocket messages`);
    // A later batch as the marker: kim's drop would have been announced before it.
    const marker = await server.register(uniqueName('mark'));
    const m = connect(server.wsUrl, { token: marker.token, params: { history: '0' } });
    await w.next('user_joined', (f) => f.user.id === marker.user.id);
    await m.close();
    assert.equal(w.all('user_left').filter((f) => f.user.id === kim.user.id).length, 0);
    assert.equal(w.all('user_joined').filter((f) => f.user.id === kim.user.id).length, 1);
    await Promise.all([w.close(), k2.close(), ...storm.map((s) => s.close())]);
  });

  test('a resent clientId gets the original ack and never a second message', async () => {
    const erin = await server.register(uniqueName('erin'));
    const frank = await server.register(uniqueName('frank'));
    const e = connect(server.wsUrl, { token: erin.token, params: { history: '0' } });
    const f = connect(server.wsUrl, { token: frank.token, params: { history: '0' } });
    await e.next('hello');
    await f.next('hello');
    e.send({ type: 'send', room: 'general', clientId: 'dup-1', text: 'only once' });
    e.send({ type: 'send', room: 'general', clientId: 'dup-1', text: 'only once' });
    const first = await e.next('ack');
    const second = await e.next('ack');
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(second.seq, first.seq);
    assert.equal(second.messageId, first.messageId);
    await e.close();
    // Resent after a reconnect (the ack was lost, say): still the original.
    const e2 = connect(server.wsUrl, { token: erin.token, params: { history: '0' } });
    await e2.next('hello');
    e2.send({ type: 'send', room: 'general', clientId: 'dup-1', text: 'only once' });
    const third = await e2.next('ack');
    assert.equal(third.duplicate, true);
    assert.equal(third.seq, first.seq);
    // A later message as the marker: a second copy of dup-1 would reach frank before it.
    e2.send({ type: 'send', room: 'general', clientId: 'dup-marker', text: 'marker' });
    await f.nextMessage((x) => x.clientId === 'dup-marker');
    assert.equal(f.messages().filter((m) => m.clientId === 'dup-1').length, 1);
    const page = await server.app.store.getMessages('general', { after: first.seq! - 1, limit: 100 });
    assert.equal(page.messages.filter((m) => m.clientId === 'dup-1').length, 1);
    await Promise.all([e2.close(), f.close()]);
  });

  test('resume: a reconnecting client receives exactly what it missed, in order, then live traffic', async () => {
    const gina = await server.register(uniqueName('gina'));
    const hal = await server.register(uniqueName('hal'));
    const g = connect(server.wsUrl, { token: gina.token, params: { history: '0' } });
    const h = connect(server.wsUrl, { token: hal.token, params: { history: '0' } });
    await g.next('hello');
    await h.next('hello');
    h.send({ type: 'send', room: 'general', clientId: 'r-before', text: 'before' });
    const seen = await g.nextMessage((f) => f.clientId === 'r-before');
    await g.close();
    for (let i = 0; i < 7; i++) h.send({ type: 'send', room: 'general', clientId: `r-missed-${i}`, text: `missed ${i}` });
    await h.waitCount('ack', 8);
    const back = connect(server.wsUrl, { token: gina.token, params: { resume: `general:${seen.seq}` } });
    const replay = await back.next('events');
    assert.equal(replay.reason, 'resume');
    assert.equal(replay.after, seen.seq);
    assert.equal(replay.through, seen.seq + 7);
    assert.equal(replay.hasMore, false);
    assert.deepEqual(created(replay.events).map((m) => m.text), Array.from({ length: 7 }, (_, i) => `missed ${i}`));
    assert.deepEqual(replay.events.map((e) => e.seq), Array.from({ length: 7 }, (_, i) => seen.seq + 1 + i));
    assert.equal(back.all('history').length, 0, 'no initial history for a resumed room');
    h.send({ type: 'send', room: 'general', clientId: 'r-live', text: 'live' });
    const live = await back.nextMessage((f) => f.clientId === 'r-live');
    assert.equal(live.seq, seen.seq + 8);
    // The resume frame works mid-connection too.
    back.send({ type: 'resume', rooms: { general: seen.seq + 5 } });
    const again = await back.next('events', (f) => f.reason === 'resume');
    assert.deepEqual(seqs(created(again.events)), [seen.seq + 6, seen.seq + 7, seen.seq + 8]);
    await Promise.all([back.close(), h.close()]);
  });

  test('resume from further back than the replay limit says so instead of flooding', async () => {
    const ivy = await server.register(uniqueName('ivy'));
    const start = (await server.app.store.getRoom('general'))!.lastSeq;
    await seed(server, ivy, LIMITS.resumeMaxEvents + 5, 'gap');
    const s = connect(server.wsUrl, { token: ivy.token, params: { resume: `general:${start}` } });
    const gap = await s.next('resume_gap');
    assert.equal(gap.afterSeq, start);
    assert.equal(gap.latestSeq, start + LIMITS.resumeMaxEvents + 5);
    assert.equal(s.all('history').length, 0);
    assert.equal(s.all('events').length, 0);
    // The client pages forward instead.
    s.send({ type: 'history', room: 'general', after: start, limit: 100, ref: 'fwd' });
    const page = await s.next('history', (f) => f.ref === 'fwd');
    assert.equal(page.messages[0]!.seq, start + 1);
    assert.equal(page.messages.length, 100);
    assert.equal(page.hasMore, true);
    await s.close();
  });

  test('sending to a room the user is not in is refused', async () => {
    const jo = await server.register(uniqueName('jo'));
    const s = connect(server.wsUrl, { token: jo.token, params: { history: '0' } });
    await s.next('hello');
    s.send({ type: 'send', room: 'secret', clientId: 'nope', text: 'hi' });
    const err = await s.next('error');
    assert.equal(err.code, 'room_not_found');
    assert.equal(err.ref, 'nope');
    await s.close();
  });
});

export type { TestSocket };

describe('replay and live traffic overlap', () => {
  test('a message stored while a replay is being read arrives exactly once', async () => {
    // A history read that takes a while, as a networked database's would: messages stored meanwhile
    // are both in the read and fanned out live to the already-subscribed socket.
    let slow = false;
    const { store, dataDir } = slowStore(['getMessages', 'getEvents'], () => (slow ? 200 : 0));
    const server = await startTestServer({ dataDir, messagesPerSecond: 1000, messageBurst: 1000 }, { store });
    try {
      const writer = await server.register(uniqueName('writer'));
      const reader = await server.register(uniqueName('reader'));
      const w = connect(server.wsUrl, { token: writer.token, params: { history: '0' } });
      await w.next('hello');
      w.send({ type: 'send', room: 'general', clientId: 'ov-0', text: 'before' });
      const first = await w.next('ack');
      for (const params of [{ resume: `general:${first.seq}` }, { history: '50' }] as Record<string, string>[]) {
        slow = true;
        const r = connect(server.wsUrl, { token: reader.token, params });
        await r.next('hello');
        // Stored while the reader's replay/initial history is being read.
        const clientId = `ov-${Math.random().toString(36).slice(2)}`;
        w.send({ type: 'send', room: 'general', clientId, text: 'during the read' });
        await w.next('ack', (a) => a.clientId === clientId);
        await r.next(params.resume ? 'events' : 'history');
        slow = false;
        w.send({ type: 'send', room: 'general', clientId: `${clientId}-after`, text: 'after' });
        await r.nextMessage((f) => f.clientId === `${clientId}-after`);
        const copies =
          r.messages().filter((f) => f.clientId === clientId).length +
          r.all('history').flatMap((h) => h.messages).filter((m) => m.clientId === clientId).length +
          created(r.all('events').flatMap((e) => e.events)).filter((m) => m.clientId === clientId).length;
        assert.equal(copies, 1, `${JSON.stringify(params)}: the overlapping message arrived ${copies} times`);
        await r.close();
      }
      await w.close();
    } finally {
      await server.close();
    }
  });
});

describe('presence in a large room', () => {
  test('past the list limit: counts instead of arrivals; back under it: one full list', async () => {
    // Every socket here comes from 127.0.0.1: lift the per-address cap above the crowd.
    const server = await startTestServer({ presenceIntervalMs: 100, maxSocketsPerIp: 1000 });
    try {
      const watcher = await server.register(uniqueName('big-watch'));
      const w = connect(server.wsUrl, { token: watcher.token, params: { history: '0' } });
      await w.next('hello');
      const crowdSize = LIMITS.presenceListMax + 5;
      const crowd = await Promise.all(Array.from({ length: crowdSize }, () => server.register(uniqueName('big'))));
      const sockets = crowd.map((u) => connect(server.wsUrl, { token: u.token, params: { history: '0' } }));
      await Promise.all(sockets.map((s) => s.next('hello')));
      const total = crowdSize + 1;
      const counted = await w.next('presence_count', (f) => f.count === total, 10_000);
      assert.equal(counted.room, 'general');
      const joinsSeen = w.all('user_joined').length;
      assert.ok(joinsSeen <= LIMITS.presenceListMax, `no per-user arrivals past the limit (${joinsSeen})`);
      // A newcomer gets a partial list with the exact count.
      const late = connect(server.wsUrl, { token: watcher.token, params: { history: '0' } });
      const snapshot = await late.next('presence');
      assert.equal(snapshot.users.length, LIMITS.presenceListMax);
      assert.equal(snapshot.count, total);
      assert.equal(new Set(snapshot.users.map((u) => u.id)).size, snapshot.users.length);
      await late.close();
      // Ten leave: the room is small again and every member gets the whole list once.
      await Promise.all(sockets.slice(0, 10).map((s) => s.close()));
      const full = await w.next('presence', (f) => f.count === total - 10, 10_000);
      assert.equal(full.users.length, total - 10);
      assert.equal(w.all('user_left').length, 0, 'departures were folded into the full list');
      await Promise.all([w.close(), ...sockets.slice(10).map((s) => s.close())]);
    } finally {
      await server.close();
    }
  });
});

describe('fan-out pacing', () => {
  // Rounds of writes here take far less than a millisecond. A huge pace with no minimum makes every
  // round after the first wait for the cap, so what the tests see does not depend on machine speed.
  const capMs = 1000;
  let server: TestServer;
  let users: TestUser[];
  before(async () => {
    server = await startTestServer({
      messagesPerSecond: 1000,
      messageBurst: 1000,
      fanoutPace: 1e6,
      fanoutPaceMinMs: 0,
      fanoutPaceMaxMs: capMs,
      presenceIntervalMs: 60_000, // keep presence batches out of the room's rounds
    });
    users = await Promise.all(Array.from({ length: 4 }, () => server.register(uniqueName('paced'))));
  });
  after(() => server.close());

  /** Sockets that also record each raw WebSocket message with its arrival time. */
  async function seat(): Promise<{ sockets: TestSocket[]; raw: { at: number; text: string }[][] }> {
    const sockets = users.map((u) => connect(server.wsUrl, { token: u.token, params: { history: '0' } }));
    const raw = sockets.map((s) => {
      const list: { at: number; text: string }[] = [];
      s.ws.on('message', (data) => list.push({ at: performance.now(), text: data.toString() }));
      return list;
    });
    await Promise.all(sockets.map((s) => s.next('hello')));
    return { sockets, raw };
  }

  async function sendAndAck(s: TestSocket, clientId: string): Promise<void> {
    s.send({ type: 'send', room: 'general', clientId, text: clientId });
    await s.next('ack', (f) => f.clientId === clientId);
  }

  /** The raw message that carried the fan-out of `clientId` (whose text is the clientId; acks carry no text). */
  const arrival = (list: { at: number; text: string }[], clientId: string) => list.find((m) => m.text.includes(`"text":"${clientId}"`));

  test('a busy room: what arrives during a round waits for the next, goes out in one write, in order', async () => {
    const { sockets, raw } = await seat();
    const tag = uniqueName('p');
    // Before the server can have written the first round: the next round's hold starts later still.
    // (Not the first round's arrival: a loaded machine can hand it to the test long after writing it.)
    const beforeFirst = performance.now();
    await sendAndAck(sockets[0]!, `${tag}-1`);
    await Promise.all(sockets.map((s) => s.nextMessage((f) => f.clientId === `${tag}-1`)));
    // Two sends in two separate turns: unpaced, each would be its own write.
    await sendAndAck(sockets[0]!, `${tag}-2`);
    await sendAndAck(sockets[1]!, `${tag}-3`);
    for (const s of sockets) assert.equal(s.messages().filter((f) => f.clientId === `${tag}-2`).length, 0, 'acked but still waiting for the round');
    const seconds = await Promise.all(sockets.map((s) => s.nextMessage((f) => f.clientId === `${tag}-3`, capMs * 5)));
    for (let i = 0; i < sockets.length; i++) {
      const second = arrival(raw[i]!, `${tag}-2`)!;
      assert.ok(second.text.includes(`"text":"${tag}-3"`), 'both waiting messages went out in one WebSocket message');
      assert.ok(second.text.indexOf(`"text":"${tag}-2"`) < second.text.indexOf(`"text":"${tag}-3"`), 'in seq order');
      // A lower bound only, which load can only make easier; 0.9: timers run on a millisecond clock read once per loop turn.
      assert.ok(second.at - beforeFirst >= capMs * 0.9, `the second round waited for its turn (${Math.round(second.at - beforeFirst)} ms)`);
      const got = sockets[i]!.messages().filter((f) => f.clientId.startsWith(`${tag}-`));
      assert.deepEqual(got.map((f) => f.clientId), [`${tag}-1`, `${tag}-2`, `${tag}-3`], 'each once');
      assert.equal(got[2]!.seq, got[1]!.seq + 1);
    }
    assert.equal(seconds.length, sockets.length);
    await Promise.all(sockets.map((s) => s.close()));
  });

  test('shutdown writes a waiting round before closing the sockets', async () => {
    const { sockets } = await seat();
    const tag = uniqueName('s');
    await sendAndAck(sockets[0]!, `${tag}-1`);
    await Promise.all(sockets.map((s) => s.nextMessage((f) => f.clientId === `${tag}-1`)));
    await sendAndAck(sockets[0]!, `${tag}-2`);
    await server.app.close();
    for (const s of sockets) {
      const { code } = await s.closed;
      assert.equal(code, CLOSE_CODES.going_away);
      assert.equal(s.messages().filter((f) => f.clientId === `${tag}-2`).length, 1, 'the waiting message went out first');
    }
  });
});
