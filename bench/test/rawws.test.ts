// The load generator's own WebSocket client: its frame parser fed hand-written server frames split
// every way a TCP stream may split them, its masked client frames read back by a real `ws` server,
// and the handshake, ping, close and refusal paths against real servers.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { FrameReader, RawWebSocket, clientFrame, frameLength } from '../load/rawws.mjs';

/** An unmasked server frame, as `ws` writes it: 7-bit, 16-bit or 64-bit length by size. */
function serverFrame(payload: Buffer | string, { opcode = 1, fin = true } = {}): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const n = body.length;
  const header = n < 126 ? Buffer.from([0, n]) : n < 0x10000 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = (fin ? 0x80 : 0) | opcode;
  if (n >= 126 && n < 0x10000) {
    header[1] = 126;
    header.writeUInt16BE(n, 2);
  } else if (n >= 0x10000) {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, body]);
}

/** A reader that records every message and control frame as strings (copies, since views are transient). */
function recorder() {
  const messages: string[] = [];
  const controls: [number, string][] = [];
  const reader = new FrameReader(
    (buf: Buffer, start: number, end: number) => messages.push(buf.toString('utf8', start, end)),
    (opcode: number, buf: Buffer, start: number, end: number) => controls.push([opcode, buf.toString('latin1', start, end)]),
  );
  return { reader, messages, controls };
}

/** Feed `bytes` in chunks of the given sizes (cycled), each chunk copied into a reused scratch buffer with junk after it, as the shared read buffer is. */
function feed(reader: InstanceType<typeof FrameReader>, bytes: Buffer, sizes: number[]) {
  const scratch = Buffer.alloc(Math.min(Math.max(...sizes), bytes.length) + 16);
  for (let pos = 0, i = 0; pos < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length], bytes.length - pos);
    scratch.fill('bm:7:7:\n');
    bytes.copy(scratch, 5, pos, pos + n);
    reader.push(scratch, 5, 5 + n);
    pos += n;
  }
}

const text = (n: number, c = 'x') => `{"type":"message","n":${n}}` + c.repeat(Math.max(0, n - 25));

describe('the frame parser', () => {
  test('frameLength reads 7-bit, 16-bit and 64-bit lengths and says when the header is incomplete', () => {
    assert.equal(frameLength(serverFrame('abc'), 0, 5), 5);
    assert.equal(frameLength(serverFrame('a'.repeat(300)), 0, 4), 304);
    assert.equal(frameLength(serverFrame('a'.repeat(70_000)), 0, 10), 70_010);
    assert.equal(frameLength(serverFrame('a'.repeat(300)), 0, 3), -1, '16-bit length not all there');
    assert.equal(frameLength(serverFrame('a'.repeat(70_000)), 0, 9), -1, '64-bit length not all there');
    assert.equal(frameLength(Buffer.from([0x81]), 0, 1), -1);
  });

  test('several frames in one chunk, each handed on in place', () => {
    const { reader, messages } = recorder();
    const chunk = Buffer.concat([serverFrame('one'), serverFrame('two\nthree'), serverFrame('')]);
    reader.push(chunk);
    assert.deepEqual(messages, ['one', 'two\nthree', '']);
    assert.equal(reader.pendingLength, 0);
  });

  test('frames of every length kind split across chunks at every size, the same messages come out', () => {
    const payloads = [text(10), text(125), text(126), text(300), text(65_535), text(65_536), text(200_000), '', text(5)];
    const stream = Buffer.concat(payloads.map((p) => serverFrame(p)));
    for (const sizes of [[1], [2], [3], [7], [1, 9, 2], [125], [4096], [65_536], [stream.length]]) {
      const { reader, messages } = recorder();
      feed(reader, stream, sizes);
      assert.equal(messages.length, payloads.length, `chunks of ${sizes}`);
      messages.forEach((m, i) => assert.ok(m === payloads[i], `message ${i} with chunks of ${sizes}`));
    }
  });

  test('a fragmented message (text, then continuations) is joined, with control frames between', () => {
    const stream = Buffer.concat([
      serverFrame('hel', { fin: false }),
      serverFrame('ping!', { opcode: 0x9 }),
      serverFrame('lo ', { opcode: 0, fin: false }),
      serverFrame('a'.repeat(300), { opcode: 0, fin: true }),
      serverFrame('after'),
    ]);
    for (const sizes of [[stream.length], [1], [3, 5]]) {
      const { reader, messages, controls } = recorder();
      feed(reader, stream, sizes);
      assert.deepEqual(messages, ['hello ' + 'a'.repeat(300), 'after']);
      assert.deepEqual(controls, [[0x9, 'ping!']]);
    }
  });

  test('the bytes after a message are not part of it, even when the buffer holds more', () => {
    const { reader, messages } = recorder();
    const chunk = Buffer.concat([serverFrame('bm:1:2:'), Buffer.from('bm:3:4:junk')]);
    reader.push(chunk, 0, 9);
    assert.deepEqual(messages, ['bm:1:2:']);
    assert.equal(reader.pendingLength, 0);
  });

  test('a continuation without a message, and an unknown opcode, are errors', () => {
    assert.throws(() => recorder().reader.push(serverFrame('x', { opcode: 0 })), /continuation/);
    assert.throws(() => recorder().reader.push(serverFrame('x', { opcode: 3 })), /opcode/);
  });

  test('a masked frame is unmasked (what clientFrame writes reads back)', () => {
    for (const payload of ['', 'short', 'a'.repeat(200), 'b'.repeat(70_000)]) {
      const { reader, messages } = recorder();
      reader.push(clientFrame(payload));
      assert.deepEqual(messages, [payload]);
    }
  });
});

describe('the client against real servers', () => {
  const closers: (() => void)[] = [];
  after(() => closers.forEach((c) => c()));

  async function wsServer(onConnection: (socket: import('ws').WebSocket) => void, verifyClient?: () => boolean) {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, ...(verifyClient && { verifyClient }) });
    wss.on('connection', onConnection);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      for (const c of wss.clients) c.terminate();
      http.close();
    });
    return `ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws?x=1`;
  }

  function open(url: string, options = {}) {
    const ws = new RawWebSocket(url, options);
    const got: string[] = [];
    const done = new Promise<number>((resolve) => {
      ws.onclose = resolve;
    });
    const opened = new Promise<void>((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    ws.onmessage = (buf: Buffer, start: number, end: number) => got.push(buf.toString('utf8', start, end));
    return { ws, got, done, opened };
  }

  test('sends masked frames a ws server reads, receives text of every length, answers pings', async () => {
    let pongs = 0;
    const url = await wsServer((socket) => {
      socket.on('pong', () => pongs++);
      socket.on('message', (data) => {
        const s = data.toString();
        if (s === 'end') socket.close(4001, 'bye');
        else {
          socket.ping('p');
          socket.send(s);
          socket.send(s.repeat(3));
        }
      });
    });
    const c = open(url, { headers: { authorization: 'Bearer t' } });
    await c.opened;
    c.ws.send('hi');
    c.ws.send('é'.repeat(40_000));
    c.ws.send('end');
    assert.equal(await c.done, 4001, 'the close code the server sent');
    assert.deepEqual(c.got, ['hi', 'hihihi', 'é'.repeat(40_000), 'é'.repeat(120_000)]);
    assert.equal(pongs, 2);
  });

  test('a refused upgrade is an error in the words of ws, then a close with 1006', async () => {
    const url = await wsServer(() => {}, () => false);
    const c = open(url);
    await assert.rejects(c.opened, /Unexpected server response: 401/);
    assert.equal(await c.done, 1006);
  });

  test('terminate ends the connection without a close frame', async () => {
    let serverSaw = 0;
    const closed = new Promise<void>((resolve) => {
      void wsServer((socket) =>
        socket.on('close', (code) => {
          serverSaw = code;
          resolve();
        }),
      ).then(async (url) => {
        const c = open(url);
        await c.opened;
        c.ws.terminate();
        assert.equal(await c.done, 1006);
      });
    });
    await closed;
    assert.equal(serverSaw, 1006);
  });
});
