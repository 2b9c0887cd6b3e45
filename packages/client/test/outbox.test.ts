/**
 * The outbox's per-room queues, against a scripted server on a real socket that never answers one
 * room's changes: a condition a healthy Chatter server cannot be made to produce on demand (its
 * one change queue serves every room), as the proxy in api.test.ts stands in for a broken gateway.
 */
import type { ClientFrame, Message, MyRoom, ServerFrame } from '@chatter/protocol';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { closeAllClients, recordClient, waitFor } from './helpers.js';

const at = new Date().toISOString();
const me = { id: 1, username: 'me', avatarUrl: null };

function myRoom(id: string): MyRoom {
  return { id, kind: 'channel', name: id, topic: '', visibility: 'public', archived: false, createdAt: at, lastSeq: 0, memberCount: 1, members: [], role: 'member', readSeq: 0, unread: 0, mentions: 0, notify: 'all', lastActivityAt: at };
}

describe('outbox: one queue per room', () => {
  let wss: WebSocketServer;
  let url: string;
  /** Every change frame the server received, in order. */
  const received: string[] = [];

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
    wss.on('connection', (ws) => {
      const send = (frame: ServerFrame) => ws.send(JSON.stringify(frame));
      const seqs = new Map<string, number>();
      send({
        type: 'hello',
        protocol: 2,
        user: { ...me, email: null, createdAt: at },
        rooms: [myRoom('stuck'), myRoom('fine')],
        sessionExpiresAt: at,
        serverTime: at,
        limits: { messageMaxChars: 4000, historyPageMax: 100, resumeMaxEvents: 1000, messagesPerSecond: 100, maxFrameBytes: 65536 },
      });
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as ClientFrame;
        if (frame.type !== 'send') return;
        received.push(`${frame.room}:${frame.text}`);
        if (frame.room === 'stuck') return; // never answered
        const seq = (seqs.get(frame.room) ?? 0) + 1;
        seqs.set(frame.room, seq);
        const message: Message = { id: 100 + received.length, room: frame.room, seq, author: me, text: frame.text, clientId: frame.clientId, createdAt: at, version: seq, editedAt: null, deleted: false, mentions: [], reactions: [] };
        send({ type: 'ack', clientId: frame.clientId, room: frame.room, seq, duplicate: false, messageId: message.id, createdAt: at });
        send({ type: 'event', event: { kind: 'message_created', room: frame.room, seq, at, actorId: me.id, message } });
      });
    });
  });
  after(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  afterEach(() => closeAllClients());

  test('a room whose change is never answered holds up only its own later changes', async () => {
    const c = recordClient(url, 'token', { history: 0 });
    c.client.send('stuck', 'first in stuck');
    c.client.send('stuck', 'second in stuck');
    c.client.send('fine', 'one');
    c.client.send('fine', 'two');
    c.client.connect();
    await waitFor(() => c.view('fine').length === 2, 'both messages of the other room are through');
    assert.deepEqual(c.view('fine').map((m) => m.text), ['one', 'two']);
    // The stuck room's second change waits behind its first (order within a room); nothing else does.
    assert.deepEqual(received.filter((r) => r.startsWith('stuck:')), ['stuck:first in stuck']);
    assert.deepEqual(received.filter((r) => r.startsWith('fine:')), ['fine:one', 'fine:two']);
    assert.deepEqual(c.client.pending().map((p) => [p.room, p.state]), [
      ['stuck', 'sending'],
      ['stuck', 'pending'],
    ]);
  });
});
