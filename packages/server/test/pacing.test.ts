import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { connect, sleep, uniqueName, type TestSocket } from './wsclient.js';

/**
 * Pacing holds a large room's next round only when holding is expected to join messages: when they
 * arrive more often than one per hold. Rounds here take far less than a millisecond, so a huge pace
 * with no minimum makes every hold the cap, whatever the machine's speed; what tells a held round
 * from one written at once is whether two messages sent in separate turns arrive in one WebSocket
 * message. Each test gets a fresh server, so no room carries another test's rate.
 */
describe('adaptive fan-out pacing', () => {
  let server: TestServer | undefined;
  let sockets: TestSocket[] = [];
  /** Per socket, the text of each raw WebSocket message, in order. */
  let raw: string[][] = [];

  /** A fresh server whose large-room hold is always `holdMs`, and three users in `general`. */
  async function start(holdMs: number): Promise<void> {
    server = await startTestServer({
      messagesPerSecond: 1000,
      messageBurst: 1000,
      fanoutPace: 1e6,
      fanoutPaceMinMs: 0,
      fanoutPaceMaxMs: holdMs,
      presenceIntervalMs: 60_000, // keep presence batches out of the room's rounds
    });
    const users: TestUser[] = await Promise.all(Array.from({ length: 3 }, () => server!.register(uniqueName('pace'))));
    sockets = users.map((u) => connect(server!.wsUrl, { token: u.token, params: { history: '0' } }));
    raw = sockets.map((s) => {
      const list: string[] = [];
      s.ws.on('message', (data) => list.push(data.toString()));
      return list;
    });
    await Promise.all(sockets.map((s) => s.next('hello')));
  }
  afterEach(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await server?.close();
    server = undefined;
  });

  async function sendAndAck(s: TestSocket, clientId: string): Promise<void> {
    s.send({ type: 'send', room: 'general', clientId, text: clientId });
    await s.next('ack', (f) => f.clientId === clientId);
  }

  /** Every socket got `clientId`'s message (a held round comes after the hold: up to a few seconds here). */
  const delivered = (clientId: string) => Promise.all(sockets.map((s) => s.nextMessage((f) => f.clientId === clientId, 10_000)));

  /** The raw WebSocket messages of socket `i` that carry the fan-out of these clientIds (each message's text is its clientId). */
  const carrying = (i: number, ids: string[]) => raw[i]!.filter((text) => ids.some((id) => text.includes(`"text":"${id}"`)));

  test('a room whose messages come slower than one per hold is written at once, even inside the hold', async () => {
    const holdMs = 200;
    await start(holdMs);
    const tag = uniqueName('slow');
    await sendAndAck(sockets[0]!, `${tag}-1`);
    await delivered(`${tag}-1`);
    // One gap longer than the hold: the room's rate is now below one message per hold.
    await sleep(holdMs * 2.5);
    await sendAndAck(sockets[1]!, `${tag}-2`);
    await delivered(`${tag}-2`);
    // Two more in quick succession, well inside the hold after each round: with fixed pacing the
    // third would wait for the hold and go out with the fourth.
    await sendAndAck(sockets[0]!, `${tag}-3`);
    await sendAndAck(sockets[1]!, `${tag}-4`);
    await delivered(`${tag}-4`);
    const ids = [1, 2, 3, 4].map((n) => `${tag}-${n}`);
    for (let i = 0; i < sockets.length; i++) {
      assert.equal(carrying(i, ids).length, 4, `each message in its own write (${carrying(i, ids).length} writes for 4)`);
      assert.deepEqual(sockets[i]!.messages().filter((m) => m.clientId.startsWith(`${tag}-`)).map((m) => m.clientId), ids);
    }
  });

  test('a room whose messages come faster than one per hold is paced: what arrives during the hold goes out in one write', async () => {
    await start(1000);
    const tag = uniqueName('busy');
    const ids = Array.from({ length: 6 }, (_, n) => `${tag}-${n + 1}`);
    // Sent one after another, each acked before the next: separate turns, gaps far under the hold.
    for (const [n, id] of ids.entries()) await sendAndAck(sockets[n % sockets.length]!, id);
    await delivered(ids.at(-1)!);
    for (let i = 0; i < sockets.length; i++) {
      const writes = carrying(i, ids);
      assert.ok(writes.length < ids.length, `some messages joined in one write: ${writes.length} writes for ${ids.length}`);
      assert.ok(writes.some((text) => ids.filter((id) => text.includes(`"text":"${id}"`)).length >= 2), 'messages of separate turns went out together');
      assert.deepEqual(sockets[i]!.messages().filter((m) => m.clientId.startsWith(`${tag}-`)).map((m) => m.clientId), ids, 'each once, in order');
    }
  });
});
