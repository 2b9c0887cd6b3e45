#!/usr/bin/env node
// The practical floor for a Node chat server: a bare `ws` broadcast. Each incoming chat frame is
// parsed, turned into one outgoing message, serialized ONCE (to a Buffer, so ws does not re-encode
// the string per socket) and sent to every socket of its room. No auth, no storage, no acks, no
// presence. Rooms: a client names its rooms in the URL (`rooms=a,b,c`, default `general`), and a
// room is a set of sockets.
// Usage: node bench/peers/ws-floor.mjs PORT   (prints READY when listening)
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? 0);
const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 64 * 1024 });
let nextId = 0;
/** room -> its sockets */
const rooms = new Map();

wss.on('connection', (socket, req) => {
  const query = new URL(req.url ?? '/', 'http://x').searchParams;
  const user = query.get('user') ?? 'anonymous';
  const mine = (query.get('rooms') ?? 'general').split(',').filter(Boolean);
  for (const id of mine) {
    let set = rooms.get(id);
    if (!set) rooms.set(id, (set = new Set()));
    set.add(socket);
  }
  socket.on('message', (data) => {
    let frame;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return;
    }
    const room = frame?.room ?? 'general';
    if (typeof frame?.text !== 'string' || !mine.includes(room)) return;
    nextId++;
    const out = Buffer.from(
      JSON.stringify({ type: 'message', message: { id: nextId, room, user, text: frame.text, clientId: frame.clientId, at: Date.now() } }),
    );
    for (const client of rooms.get(room)) {
      if (client.readyState === 1) client.send(out, { binary: false });
    }
  });
  socket.on('close', () => {
    for (const id of mine) rooms.get(id)?.delete(socket);
  });
  socket.on('error', () => {});
});

http.listen(port, '127.0.0.1', () => console.log('READY'));
const stop = () => {
  for (const client of wss.clients) client.terminate();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
