import { CLOSE_CODES, LIMITS } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import type { Connection } from '../src/realtime/hub.js';
import { startTestServer, type TestServer } from '../src/testing.js';
import { connect, sleep, uniqueName, type TestSocket } from './wsclient.js';

describe('limits and bad input on the socket', () => {
  test('rate limit: an error frame per refused send, nothing stored, connection kept', async () => {
    const server = await startTestServer({ messagesPerSecond: 1, messageBurst: 3 });
    try {
      const u = await server.register(uniqueName());
      const s = connect(server.wsUrl, { token: u.token, params: { history: '0' } });
      await s.next('hello');
      for (let i = 0; i < 5; i++) s.send({ type: 'send', room: 'general', clientId: `rl-${i}`, text: `m${i}` });
      const acks = await s.waitCount('ack', 3);
      const errors = await s.waitCount('error', 2);
      assert.deepEqual(acks.map((a) => a.clientId), ['rl-0', 'rl-1', 'rl-2']);
      for (const e of errors) {
        assert.equal(e.code, 'rate_limited');
        assert.ok(typeof e.details?.retryAfter === 'number' && e.details.retryAfter > 0);
      }
      assert.deepEqual(errors.map((e) => e.ref), ['rl-3', 'rl-4']);
      const stored = await server.app.store.getMessages('general', { limit: 100 });
      assert.deepEqual(stored.messages.map((m) => m.clientId), ['rl-0', 'rl-1', 'rl-2']);
      // After waiting, the same client id goes through (the refused send was not stored).
      await sleep(1100);
      s.send({ type: 'send', room: 'general', clientId: 'rl-3', text: 'm3' });
      const late = await s.next('ack', (a) => a.clientId === 'rl-3');
      assert.equal(late.duplicate, false);
      await s.close();
    } finally {
      await server.close();
    }
  });

  test('an inbound frame over the size limit closes with 1009; other sockets are unaffected', async () => {
    const server = await startTestServer({ maxFrameBytes: 4096 });
    try {
      const u = await server.register(uniqueName());
      const other = connect(server.wsUrl, { token: u.token });
      const s = connect(server.wsUrl, { token: u.token });
      await Promise.all([s.next('hello'), other.next('hello')]);
      s.sendRaw(JSON.stringify({ type: 'send', room: 'general', clientId: 'big', text: 'x'.repeat(5000) }));
      assert.equal((await s.closed).code, CLOSE_CODES.too_big);
      other.send({ type: 'ping', ref: 'alive' });
      assert.equal((await other.next('pong')).ref, 'alive');
      await other.close();
    } finally {
      await server.close();
    }
  });

  test('a corpus of malformed frames gets error frames and leaves the connection and server healthy', async () => {
    const server = await startTestServer({ messagesPerSecond: 1000, messageBurst: 1000 });
    try {
      const u = await server.register(uniqueName());
      const s = connect(server.wsUrl, { token: u.token, params: { history: '0' } });
      await s.next('hello');
      const corpus: Array<[string | Buffer, string]> = [
        ['not json', 'bad_frame'],
        ['{"type":', 'bad_frame'],
        ['', 'bad_frame'],
        ['null', 'bad_frame'],
        ['[]', 'bad_frame'],
        ['42', 'bad_frame'],
        ['"send"', 'bad_frame'],
        ['{}', 'unknown_type'],
        ['{"type":"nope"}', 'unknown_type'],
        ['{"type":"__proto__"}', 'unknown_type'],
        ['{"type":"constructor"}', 'unknown_type'],
        ['{"type":42}', 'unknown_type'],
        ['{"type":"send"}', 'validation_failed'],
        ['{"type":"send","room":"general","clientId":"c","text":42}', 'validation_failed'],
        ['{"type":"send","room":"general","clientId":"has space","text":"x"}', 'validation_failed'],
        ['{"type":"send","room":"general","clientId":"' + 'a'.repeat(65) + '","text":"x"}', 'validation_failed'],
        ['{"type":"send","room":"General!","clientId":"c1","text":"x"}', 'validation_failed'],
        ['{"type":"send","room":"general","clientId":"c2","text":"x","extra":true}', 'validation_failed'],
        ['{"type":"send","room":"general","clientId":"c3","text":"   "}', 'validation_failed'],
        ['{"type":"send","room":"general","clientId":"c4","text":"' + 'y'.repeat(LIMITS.messageMaxChars + 1) + '"}', 'validation_failed'],
        ['{"type":"history","room":"general","limit":1000}', 'validation_failed'],
        ['{"type":"history","room":"general","before":-1}', 'validation_failed'],
        ['{"type":"resume","rooms":{"general":"x"}}', 'validation_failed'],
        ['{"type":"resume","rooms":[1,2]}', 'validation_failed'],
        ['{"type":"ping","ref":' + JSON.stringify('r'.repeat(100)) + '}', 'validation_failed'],
        ['{"type":"send","room":"general","clientId":"c5","text":"\\ud800"}', 'ack'],
        [Buffer.from([0xff, 0xfe, 0x00]), 'bad_frame'],
      ];
      for (const [raw, expected] of corpus) {
        const before = s.frames.length;
        if (Buffer.isBuffer(raw)) s.ws.send(raw, { binary: true });
        else s.sendRaw(raw);
        const reply = expected === 'ack' ? await s.next('ack') : await s.next('error');
        if (reply.type === 'error') {
          assert.equal(reply.code, expected, `frame ${String(raw).slice(0, 60)} -> ${reply.code}: ${reply.message}`);
          assert.ok(reply.message.length > 0 && !/at .*\.ts:\d+/.test(reply.message), 'a sentence, not a stack trace');
        }
        assert.ok(s.frames.length > before);
      }
      const lengthError = s.all('error').find((e) => e.message.includes(String(LIMITS.messageMaxChars)));
      assert.ok(lengthError, 'the length error names the limit');
      // Still a working connection and a healthy server.
      s.send({ type: 'send', room: 'general', clientId: 'after-corpus', text: 'still here' });
      assert.equal((await s.next('ack', (a) => a.clientId === 'after-corpus')).duplicate, false);
      const health = await fetch(`${server.url}/api/health`);
      assert.equal(health.status, 200);
      const stored = await server.app.store.getMessages('general', { limit: 100 });
      assert.deepEqual(stored.messages.map((m) => m.clientId), ['c5', 'after-corpus'], 'no half-written state from bad frames');
      await s.close();
    } finally {
      await server.close();
    }
  });

  /** The server's side of a test client's socket, found by its user. */
  function serverConn(server: TestServer, userId: number): Connection | undefined {
    return [...server.app.gateway.hub.connections].find((c) => c.user.id === userId);
  }

  /** Flood the room from `fast` in rounds (each acked) until the server starts closing `slowUserId`'s socket. */
  async function floodUntilClosing(server: TestServer, fast: TestSocket, slowUserId: number, tag: string): Promise<number> {
    const text = 'z'.repeat(3900);
    let sent = 0;
    // Rounds, not a fixed total: how much the kernel buffers for a paused reader depends on the
    // machine, so the test sends until the server's own buffer passes the cap, however long that takes.
    while (serverConn(server, slowUserId)?.closing === false) {
      for (let k = 0; k < 50; k++, sent++) fast.send({ type: 'send', room: 'general', clientId: `${tag}-${sent}`, text });
      await fast.waitCount('ack', sent, 30_000);
    }
    return sent;
  }

  test('a slow consumer is closed with 4008 at the send-buffer cap, sees that code once it reads, and fast readers get everything', async () => {
    // Durability is not under test here; without an fsync per commit the test does not depend on
    // how busy the disk is (other suites write to it in parallel). A long close grace: this reader
    // does read, just late.
    const server = await startTestServer({ sendBufferCap: 64 * 1024, messagesPerSecond: 100_000, messageBurst: 100_000, sqliteSynchronous: 'normal', closeGraceMs: 60_000 });
    try {
      const slowUser = await server.register(uniqueName('slow'));
      const fastUser = await server.register(uniqueName('fast'));
      const slow = connect(server.wsUrl, { token: slowUser.token, params: { history: '0' } });
      const fast = connect(server.wsUrl, { token: fastUser.token, params: { history: '0' } });
      await Promise.all([slow.next('hello'), fast.next('hello')]);
      // Stop reading: the kernel buffers fill, then the server's own send buffer grows.
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const total = await floodUntilClosing(server, fast, slowUser.user.id, 'flood');
      const serverSide = serverConn(server, slowUser.user.id)!.ws;
      const serverClosed = new Promise((r) => serverSide.once('close', r));
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      const { code, reason } = await slow.closed;
      assert.equal(code, CLOSE_CODES.slow_consumer, `closed with ${code} ${reason}`);
      assert.equal(reason, 'slow_consumer');
      await fast.waitMessages(total, 60_000);
      const fastSeqs = fast.messages().map((f) => f.seq);
      assert.equal(new Set(fastSeqs).size, total, 'the fast reader got everything, once');
      await serverClosed;
      assert.equal(server.app.gateway.hub.connections.size, 1, 'the slow socket was dropped; the fast one stays');
      await fast.close();
    } finally {
      await server.close();
    }
  });

  test('a consumer that reads nothing at all is cut off after the close grace and sees 1006', async () => {
    const server = await startTestServer({ sendBufferCap: 64 * 1024, messagesPerSecond: 100_000, messageBurst: 100_000, sqliteSynchronous: 'normal', closeGraceMs: 200 });
    try {
      const slowUser = await server.register(uniqueName('stuck'));
      const fastUser = await server.register(uniqueName('fast'));
      const slow = connect(server.wsUrl, { token: slowUser.token, params: { history: '0' } });
      const fast = connect(server.wsUrl, { token: fastUser.token, params: { history: '0' } });
      await Promise.all([slow.next('hello'), fast.next('hello')]);
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      await floodUntilClosing(server, fast, slowUser.user.id, 'stuck');
      // The close frame waits behind a backlog this peer never reads: the server gives up on it.
      const serverSide = serverConn(server, slowUser.user.id)!.ws;
      if (serverSide.readyState !== serverSide.CLOSED) await new Promise((r) => serverSide.once('close', r));
      assert.equal(serverConn(server, slowUser.user.id), undefined);
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      assert.equal((await slow.closed).code, 1006, 'no close frame ever reached it');
      await fast.close();
    } finally {
      await server.close();
    }
  });

  test('heartbeat: a peer that stops answering pings is dropped', async () => {
    const server = await startTestServer({ heartbeatMs: 200 });
    try {
      const u = await server.register(uniqueName());
      // autoPong off: this client never answers pings, like a vanished peer.
      const ws = new WebSocket(server.wsUrl, { headers: { authorization: `Bearer ${u.token}` }, autoPong: false });
      await new Promise((r) => ws.once('message', r));
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      assert.equal(await closed, 1006, 'terminated, no close handshake');
      const deadline = Date.now() + 2000;
      while (server.app.gateway.hub.connections.size > 0 && Date.now() < deadline) await sleep(20);
      assert.equal(server.app.gateway.hub.connections.size, 0);
      // A peer that answers stays.
      const alive = connect(server.wsUrl, { token: u.token });
      const pinged = new Promise<void>((resolve) => {
        let pings = 0;
        alive.ws.on('ping', () => ++pings === 3 && resolve());
      });
      await alive.next('hello');
      // Three heartbeats answered (counted, not timed: a loaded machine spaces them further apart).
      await pinged;
      alive.send({ type: 'ping', ref: 'ok' });
      assert.equal((await alive.next('pong')).ref, 'ok');
      await alive.close();
    } finally {
      await server.close();
    }
  });
});
