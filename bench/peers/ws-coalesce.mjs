#!/usr/bin/env node
// The coalescing floor: the honest lower bound for what Chatter's hub does, on bare `ws` with
// nothing stored, authenticated or checked. It speaks Chatter's frames (what the load generator
// expects from Chatter: a hello on connect, an ack per send, a message frame per chat message), so
// the generator measures it exactly as it measures Chatter. Like the hub's `flush`, every frame is
// serialized once, and all frames of one event-loop turn are joined with "\n" into one payload,
// framed once as a WebSocket message and written as the same buffer to every socket. It does not
// pace (Chatter's large-room pacing trades latency for writes; this peer writes every turn).
// Usage: node bench/peers/ws-coalesce.mjs PORT   (prints READY when listening)
import { createServer } from 'node:http';
import WebSocket, { Sender, WebSocketServer } from 'ws';

const ROOM = 'general';
const SEPARATOR = '\n';

const port = Number(process.argv[2] ?? 0);
const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 64 * 1024 });

let lastSeq = 0;
/** Message frames of this turn, serialized, for every socket. */
let roomOut = [];
/** Per-socket frames of this turn (acks), written before the room batch as Chatter does. */
const dirty = new Map();
let flushScheduled = false;

wss.on('connection', (socket, req) => {
  const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'anonymous';
  const author = { id: user, username: user, avatarUrl: null };
  const now = new Date().toISOString();
  socket.send(
    JSON.stringify({
      type: 'hello',
      protocol: 1,
      user: { id: user, username: user, avatarUrl: null },
      rooms: [{ id: ROOM, name: ROOM, lastSeq }],
      sessionExpiresAt: now,
      serverTime: now,
      limits: {},
    }),
  );
  socket.on('message', (data) => {
    let frame;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (frame?.type !== 'send' || typeof frame.text !== 'string') return;
    const seq = ++lastSeq;
    const createdAt = new Date().toISOString();
    queue(socket, JSON.stringify({ type: 'ack', clientId: frame.clientId, room: ROOM, id: seq, seq, createdAt, duplicate: false }));
    roomOut.push(JSON.stringify({ type: 'message', message: { id: seq, room: ROOM, seq, author, text: frame.text, clientId: frame.clientId, createdAt } }));
    schedule();
  });
  socket.on('error', () => {});
});

function queue(socket, frame) {
  const out = dirty.get(socket);
  if (out) out.push(frame);
  else dirty.set(socket, [frame]);
}

function schedule() {
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(flush);
}

/** One write per socket per turn for the room; acks first, so a sender sees its ack before its message. */
function flush() {
  flushScheduled = false;
  for (const [socket, frames] of dirty) {
    if (socket.readyState === WebSocket.OPEN) socket.send(frames.join(SEPARATOR), { binary: false });
  }
  dirty.clear();
  if (roomOut.length === 0) return;
  const payload = Buffer.from(roomOut.length === 1 ? roomOut[0] : roomOut.join(SEPARATOR));
  roomOut = [];
  const framed = frameOnce(payload);
  for (const socket of wss.clients) {
    if (canWriteRaw(socket)) socket._socket.write(framed);
    else if (socket.readyState === WebSocket.OPEN) socket.send(payload, { binary: false });
  }
}

/** An unmasked, final text frame around `payload`, as one buffer (what `ws` would write per socket). */
function frameOnce(payload) {
  const parts = Sender.frame(payload, { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false });
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** Writing the pre-built frame is equivalent to `ws.send` only while the socket is open and its sender idle. */
function canWriteRaw(socket) {
  return socket.readyState === WebSocket.OPEN && socket._socket !== undefined && socket._sender?._state === 0 && socket._sender._queue.length === 0;
}

http.listen(port, '127.0.0.1', () => console.log('READY'));
const stop = () => {
  for (const client of wss.clients) client.terminate();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
