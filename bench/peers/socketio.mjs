#!/usr/bin/env node
// Socket.IO 4 as most Node chat tutorials use it: websocket transport only, every `chat` event
// relayed with io.emit, or with io.to(room).emit in Socket.IO rooms when clients name their rooms
// in the URL (`rooms=a,b,c`; none: one room, everyone). No auth, no storage, no acks, no presence.
// Usage: node bench/peers/socketio.mjs PORT   (prints READY when listening)
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2] ?? 0);
const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
let nextId = 0;

io.on('connection', (socket) => {
  const user = String(socket.handshake.query.user ?? 'anonymous');
  const mine = String(socket.handshake.query.rooms ?? '').split(',').filter(Boolean);
  for (const room of mine) socket.join(room);
  socket.on('chat', (msg) => {
    if (typeof msg?.text !== 'string') return;
    nextId++;
    const out = { id: nextId, user, text: msg.text, clientId: msg.clientId, at: Date.now() };
    if (mine.length === 0) io.emit('chat', out);
    else if (mine.includes(msg.room)) io.to(msg.room).emit('chat', { ...out, room: msg.room });
  });
});

http.listen(port, '127.0.0.1', () => console.log('READY'));
const stop = () => {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
