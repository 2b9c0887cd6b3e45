#!/usr/bin/env node
// Socket.IO 4 as most Node chat tutorials use it: websocket transport only, every `chat` event
// relayed to everyone with io.emit. No auth, no storage, no acks, no presence.
// Usage: node bench/peers/socketio.mjs PORT   (prints READY when listening)
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2] ?? 0);
const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
let nextId = 0;

io.on('connection', (socket) => {
  const user = String(socket.handshake.query.user ?? 'anonymous');
  socket.on('chat', (msg) => {
    if (typeof msg?.text !== 'string') return;
    nextId++;
    io.emit('chat', { id: nextId, user, text: msg.text, clientId: msg.clientId, at: Date.now() });
  });
});

http.listen(port, '127.0.0.1', () => console.log('READY'));
const stop = () => {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
