import { DEFAULT_ROOM, type AckFrame, type Message } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InProcessBus } from '../src/bus/memory.js';
import type { BusEvent } from '../src/bus/types.js';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call } from './http-helpers.js';
import { connect, uniqueName } from './wsclient.js';

/* MessageService keeps committing whatever happens after a commit. */

/** The in-process bus, except that publish throws while `failing` is set (a double at our own seam). */
class FlakyBus extends InProcessBus {
  failing = false;
  override publish(event: BusEvent): void {
    if (this.failing && event.kind === 'room') throw new Error('bus is down');
    super.publish(event);
  }
}

function sendVia(server: TestServer, author: TestUser, clientId: string, text: string, then?: (ack: AckFrame) => void): Promise<AckFrame> {
  return new Promise((resolve, reject) => {
    server.app.messages.send({ room: DEFAULT_ROOM, clientId, text, author: { id: author.user.id, username: author.username, avatarUrl: null } }, (result) => {
      if (!result.ok) return reject(result.error);
      resolve(result.ack);
      then?.(result.ack);
    });
  });
}

describe('MessageService keeps committing after a throw', () => {
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
    assert.equal(ack.seq, acks[1]!.seq + 1);
    const live = await r.next('message', (f) => f.message.clientId === 'after-1');
    assert.equal(live.message.text, 'after the bus came back');
    // The messages the bus dropped are stored: a reader that resumes gets them.
    assert.deepEqual(
      r.all('message').map((f) => f.message.clientId),
      ['after-1'],
    );
    const page = await call(server.url, 'GET', `/api/rooms/${DEFAULT_ROOM}/messages?after=${acks[0]!.seq - 1}`, { token: reader.token });
    assert.deepEqual(page.body.messages.map((m: Message) => m.clientId), ['lost-1', 'lost-2', 'after-1']);
    await Promise.all([r.close(), a.close()]);
  });

  test('an ack callback that throws: its message still fans out, the rest of its batch is acked, later batches commit', async () => {
    const reader = await server.register(uniqueName('reader'));
    const r = connect(server.wsUrl, { token: reader.token, params: { history: '0' } });
    await r.next('hello');
    // Queued in one turn: one batch, whose first callback throws.
    const thrower = new Promise<AckFrame>((resolve) =>
      server.app.messages.send(
        { room: DEFAULT_ROOM, clientId: 'cb-throws', text: 'first', author: { id: alice.user.id, username: alice.username, avatarUrl: null } },
        (result) => {
          if (result.ok) resolve(result.ack);
          throw new Error('callback failed');
        },
      ),
    );
    const second = sendVia(server, alice, 'cb-second', 'second');
    assert.equal((await second).seq, (await thrower).seq + 1);
    const next = await sendVia(server, alice, 'cb-next', 'next batch');
    assert.equal(next.seq, (await second).seq + 1);
    await r.next('message', (f) => f.message.clientId === 'cb-next');
    assert.deepEqual(
      r.all('message').map((f) => f.message.clientId),
      ['cb-throws', 'cb-second', 'cb-next'],
    );
    await r.close();
  });

  test('drain() settles after a throwing batch (graceful shutdown is not stuck)', async () => {
    const done = new Promise<void>((resolve) =>
      server.app.messages.send(
        { room: DEFAULT_ROOM, clientId: uniqueName('drain'), text: 'x', author: { id: alice.user.id, username: alice.username, avatarUrl: null } },
        () => {
          resolve();
          throw new Error('callback failed');
        },
      ),
    );
    await server.app.messages.drain();
    await done;
    await sendVia(server, alice, uniqueName('drain-after'), 'still writing');
  });
});
