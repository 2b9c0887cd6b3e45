import { DEFAULT_ROOM, LIMITS, type Message } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InProcessBus } from '../src/bus/memory.js';
import type { BusEvent } from '../src/bus/types.js';
import { AppError } from '../src/errors.js';
import { Conversations, type Outcome } from '../src/conversations/actions.js';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call } from './http-helpers.js';
import { connect, uniqueName } from './wsclient.js';

/* The actions layer's queue: it keeps committing whatever happens after a commit, and the text it stores is the text everyone sees. */

/**
 * The in-process bus, except that publish throws for room events while `failing` is set, or for
 * those whose frame contains `poison` (a double at our own seam).
 */
class FlakyBus extends InProcessBus {
  failing = false;
  poison: string | null = null;
  override publish(event: BusEvent): void {
    if (event.kind === 'room' && (this.failing || (this.poison !== null && event.frame.includes(this.poison)))) throw new Error('bus is down');
    super.publish(event);
  }
}

const actorOf = (u: TestUser) => ({ id: u.user.id, username: u.username, avatarUrl: null });

function sendVia(server: TestServer, author: TestUser, clientId: string, text: string): Promise<Outcome> {
  return server.app.conversations.send(actorOf(author), DEFAULT_ROOM, clientId, text);
}

describe('the change queue keeps committing after a throw', () => {
  let server: TestServer;
  const bus = new FlakyBus();
  let alice: TestUser;
  before(async () => {
    server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000 }, { bus });
    alice = await server.register(uniqueName('alice'));
  });
  after(() => server.close());

  test('a bus that throws on publish: the sender is still acked, and later batches commit and fan out', async () => {
    const reader = await server.register(uniqueName('reader'));
    const r = connect(server.wsUrl, { token: reader.token, params: { history: '0' } });
    const a = connect(server.wsUrl, { token: alice.token, params: { history: '0' } });
    await Promise.all([r.next('hello'), a.next('hello')]);

    bus.failing = true;
    a.send({ type: 'send', room: DEFAULT_ROOM, clientId: 'lost-1', text: 'published into a broken bus' });
    a.send({ type: 'send', room: DEFAULT_ROOM, clientId: 'lost-2', text: 'same batch' });
    const acks = [await a.next('ack', (f) => f.clientId === 'lost-1'), await a.next('ack', (f) => f.clientId === 'lost-2')];
    bus.failing = false;

    a.send({ type: 'send', room: DEFAULT_ROOM, clientId: 'after-1', text: 'after the bus came back' });
    const ack = await a.next('ack', (f) => f.clientId === 'after-1');
    assert.equal(ack.seq, acks[1]!.seq! + 1);
    const live = await r.nextMessage((m) => m.clientId === 'after-1');
    assert.equal(live.text, 'after the bus came back');
    // The messages the bus dropped are stored: a reader that resumes gets them.
    assert.deepEqual(
      r.messages().map((m) => m.clientId),
      ['after-1'],
    );
    const page = await call(server.url, 'GET', `/api/rooms/${DEFAULT_ROOM}/messages?after=${acks[0]!.seq! - 1}`, { token: reader.token });
    assert.deepEqual(page.body.messages.map((m: Message) => m.clientId), ['lost-1', 'lost-2', 'after-1']);
    await Promise.all([r.close(), a.close()]);
  });

  test('a publish that throws for one change: the rest of its batch is answered and published, later batches commit', async () => {
    const reader = await server.register(uniqueName('reader'));
    const r = connect(server.wsUrl, { token: reader.token, params: { history: '0' } });
    await r.next('hello');
    bus.poison = 'poisoned text';
    // Queued in one turn: one batch, whose first publish throws.
    const batch = [sendVia(server, alice, 'pub-throws', 'poisoned text'), sendVia(server, alice, 'pub-second', 'second')];
    const [first, second] = await Promise.all(batch);
    bus.poison = null;
    assert.equal(second!.seq, first!.seq! + 1);
    const next = await sendVia(server, alice, 'pub-next', 'next batch');
    assert.equal(next.seq, second!.seq! + 1);
    await r.nextMessage((m) => m.clientId === 'pub-next');
    assert.deepEqual(
      r.messages().map((m) => m.clientId),
      ['pub-second', 'pub-next'],
    );
    await r.close();
  });

  test('a store that throws: the batch is refused as internal, and the next batch commits', async () => {
    const store = server.app.store;
    const original = store.applyChanges.bind(store);
    store.applyChanges = async () => {
      throw new Error('disk on fire');
    };
    try {
      await assert.rejects(sendVia(server, alice, uniqueName('st'), 'lost'), (err: AppError) => err.code === 'internal');
    } finally {
      store.applyChanges = original;
    }
    const ok = await sendVia(server, alice, uniqueName('st-after'), 'stored');
    assert.equal(ok.duplicate, false);
    assert.ok(ok.seq! > 0);
  });

  test('a bus that throws while a room is created: the room exists and its creator gets it', async () => {
    bus.failing = true;
    try {
      const res = await call(server.url, 'POST', '/api/rooms', { token: alice.token, json: { name: 'despite the bus', visibility: 'public' } });
      assert.equal(res.status, 201, res.text);
      const info = await call(server.url, 'GET', `/api/rooms/${res.body.room.id}`, { token: alice.token });
      assert.equal(info.body.membership.role, 'owner');
    } finally {
      bus.failing = false;
    }
  });

  test('drain() settles after a throwing batch (graceful shutdown is not stuck)', async () => {
    bus.failing = true;
    const done = sendVia(server, alice, uniqueName('drain'), 'x');
    await server.app.conversations.drain();
    await done;
    bus.failing = false;
    await sendVia(server, alice, uniqueName('drain-after'), 'still writing');
  });
});

describe('message text: one text for every path', () => {
  let server: TestServer;
  let alice: TestUser;
  before(async () => {
    server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000 });
    alice = await server.register(uniqueName('alice'));
  });
  after(() => server.close());

  /** Send over WebSocket; return what the live reader got, what a newly connected reader got, and what REST history returns. */
  async function roundTrip(text: string): Promise<{ live: string; initial: string; rest: string }> {
    const clientId = uniqueName('t');
    const reader = connect(server.wsUrl, { token: alice.token, params: { history: '0' } });
    await reader.next('hello');
    const a = connect(server.wsUrl, { token: alice.token, params: { history: '0' } });
    await a.next('hello');
    a.send({ type: 'send', room: DEFAULT_ROOM, clientId, text });
    const ack = await a.next('ack', (f) => f.clientId === clientId);
    const live = (await reader.nextMessage((f) => f.clientId === clientId)).text;
    const later = connect(server.wsUrl, { token: alice.token, params: { history: '1' } });
    const initial = (await later.next('history', (f) => f.room === DEFAULT_ROOM)).messages[0]!;
    assert.equal(initial.seq, ack.seq);
    const page = await call(server.url, 'GET', `/api/rooms/${DEFAULT_ROOM}/messages?after=${ack.seq! - 1}&limit=1`, { token: alice.token });
    await Promise.all([reader.close(), a.close(), later.close()]);
    return { live, initial: initial.text, rest: page.body.messages[0].text };
  }

  for (const [name, sent, expected] of [
    ['a lone high surrogate becomes U+FFFD', 'before \ud83d after', 'before \ufffd after'],
    ['a lone low surrogate becomes U+FFFD', '\ude00 tail', '\ufffd tail'],
    ['a surrogate pair is kept', 'emoji \ud83d\ude00', 'emoji 😀'],
    ['decomposed text is stored composed (NFC)', 'cafe\u0301', 'caf\u00e9'],
    ['CR LF and CR become LF; tabs stay', 'one\r\ntwo\rthree\tfour', 'one\ntwo\nthree\tfour'],
  ] as const) {
    test(`${name}: live, reconnecting and REST readers see the same text`, async () => {
      const seen = await roundTrip(sent);
      assert.deepEqual(seen, { live: expected, initial: expected, rest: expected });
    });
  }

  for (const [name, text] of [
    ['NUL', 'a\u0000b'],
    ['ESC (a terminal escape)', 'red \u001b[31m text'],
    ['BEL', 'ding\u0007'],
    ['form feed', 'page\u000cbreak'],
    ['DEL', 'x\u007f'],
    ['C1 CSI', 'x\u009b31m'],
    ['C1 NEL', 'x\u0085y'],
  ] as const) {
    test(`a message with ${name} is refused: validation_failed on text, nothing stored`, async () => {
      const clientId = uniqueName('ctl');
      const a = connect(server.wsUrl, { token: alice.token, params: { history: '0' } });
      await a.next('hello');
      a.send({ type: 'send', room: DEFAULT_ROOM, clientId, text });
      const error = await a.next('error', (f) => f.ref === clientId);
      assert.equal(error.code, 'validation_failed');
      assert.match(String((error.details?.fields as Record<string, string> | undefined)?.text), /control characters/);
      // A later marker proves nothing was stored or fanned out for the refused one.
      a.send({ type: 'send', room: DEFAULT_ROOM, clientId: `${clientId}-marker`, text: 'marker' });
      await a.nextMessage((f) => f.clientId === `${clientId}-marker`);
      assert.equal(a.messages().filter((f) => f.clientId === clientId).length, 0);
      assert.equal(a.all('ack').filter((f) => f.clientId === clientId).length, 0);
      await a.close();
    });
  }

  test('checkText counts the length after normalising: a composed-length-OK text is accepted however it was keyed', () => {
    const decomposed = 'e\u0301'.repeat(LIMITS.messageMaxChars);
    assert.equal(Conversations.checkText(decomposed), '\u00e9'.repeat(LIMITS.messageMaxChars));
    assert.throws(() => Conversations.checkText('\u00e9'.repeat(LIMITS.messageMaxChars + 1)), (err: AppError) => err.code === 'validation_failed' && 'text' in (err.details?.fields ?? {}));
    assert.throws(() => Conversations.checkText(' \r\n\t '), (err: AppError) => err.code === 'validation_failed' && /empty/.test(err.details?.fields?.text ?? ''));
  });
});
