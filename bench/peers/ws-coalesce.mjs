#!/usr/bin/env node
// The coalescing floor: the honest lower bound for what Chatter's hub does, on bare `ws` with
// nothing stored, authenticated or checked. It speaks Chatter's protocol 2 frames (what the load
// generator expects from Chatter: a hello listing the client's rooms, the generic ack per send,
// an `event` frame with kind `message_created` per chat message, built as the server builds it),
// so the generator measures it exactly as it measures Chatter. Like the hub's `flush`, every frame
// is serialized once, and all frames of one event-loop turn for one room are joined with "\n"
// into one payload, framed once as a WebSocket message and written as the same buffer to every
// member of the room. It does not pace (Chatter's large-room pacing trades latency for writes;
// this peer writes every turn). Rooms: a client names its rooms in the URL (`rooms=a,b,c`,
// default `general`), the room sets stand in for membership, and a send goes to its room's set.
// Usage: node bench/peers/ws-coalesce.mjs PORT   (prints READY when listening)
import { createServer } from 'node:http';
import WebSocket, { Sender, WebSocketServer } from 'ws';
import { ackFrame, messageEventFrame } from '../load/protocols.mjs';

const SEPARATOR = '\n';

const port = Number(process.argv[2] ?? 0);
const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 64 * 1024 });

/** room -> its sockets, and its last seq. */
const rooms = new Map();
/** Message frames of this turn per room, serialized, for every member. */
const roomOut = new Map();
/** Per-socket frames of this turn (acks), written before the room batches as Chatter does. */
const dirty = new Map();
let flushScheduled = false;

function roomOf(id) {
  let room = rooms.get(id);
  if (!room) rooms.set(id, (room = { sockets: new Set(), lastSeq: 0 }));
  return room;
}

wss.on('connection', (socket, req) => {
  const query = new URL(req.url ?? '/', 'http://x').searchParams;
  const user = query.get('user') ?? 'anonymous';
  const mine = (query.get('rooms') ?? 'general').split(',').filter(Boolean);
  const author = { id: user, username: user, avatarUrl: null };
  const now = new Date().toISOString();
  for (const id of mine) roomOf(id).sockets.add(socket);
  socket.send(
    JSON.stringify({
      type: 'hello',
      protocol: 2,
      user: { id: user, username: user, avatarUrl: null },
      rooms: mine.map((id) => ({
        id, kind: 'channel', name: id, topic: '', visibility: 'public', archived: false, createdAt: now, lastSeq: roomOf(id).lastSeq,
        memberCount: roomOf(id).sockets.size, members: [], role: 'member', readSeq: 0, unread: 0, mentions: 0, notify: 'all', lastActivityAt: now,
      })),
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
    if (frame?.type !== 'send' || typeof frame.text !== 'string' || !mine.includes(frame.room)) return;
    const room = roomOf(frame.room);
    const seq = ++room.lastSeq;
    const at = new Date().toISOString();
    queue(socket, ackFrame({ clientId: frame.clientId, room: frame.room, seq, messageId: seq, createdAt: at }));
    const out = roomOut.get(frame.room);
    const event = messageEventFrame({ room: frame.room, seq, at, author, text: frame.text, clientId: frame.clientId });
    if (out) out.push(event);
    else roomOut.set(frame.room, [event]);
    schedule();
  });
  socket.on('close', () => {
    for (const id of mine) rooms.get(id)?.sockets.delete(socket);
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

/** One write per socket per turn for each room; acks first, so a sender sees its ack before its message. */
function flush() {
  flushScheduled = false;
  for (const [socket, frames] of dirty) {
    if (socket.readyState === WebSocket.OPEN) socket.send(frames.join(SEPARATOR), { binary: false });
  }
  dirty.clear();
  for (const [id, frames] of roomOut) {
    const payload = Buffer.from(frames.length === 1 ? frames[0] : frames.join(SEPARATOR));
    const framed = frameOnce(payload);
    for (const socket of rooms.get(id).sockets) {
      if (canWriteRaw(socket)) socket._socket.write(framed);
      else if (socket.readyState === WebSocket.OPEN) socket.send(payload, { binary: false });
    }
  }
  roomOut.clear();
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
