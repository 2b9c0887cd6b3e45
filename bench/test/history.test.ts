// The history scenario's seed: rows written straight into a stopped server's database must read back
// through the server as the messages its own write path would have stored, in a file left as the
// server keeps it (WAL, every foreign key satisfied).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { startTestServer } from '@chatter/server/testing';
import WebSocket from 'ws';
import { chatterSend, chatterWsPath } from '../load/protocols.mjs';
import { seedMessages } from '../scenarios/history.mjs';

test('seeded messages read back through the server, from a WAL file with every foreign key satisfied', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-seed-'));
  try {
    let server = await startTestServer({ dataDir });
    const ana = await server.register('seed_ana');
    const ben = await server.register('seed_ben');
    await server.close();

    const seeded = seedMessages(join(dataDir, 'chatter.db'), { count: 3000, authorIds: [ana.user.id, ben.user.id] });
    assert.equal(seeded.lastSeq - seeded.firstSeq + 1, 3000);

    const db = new Database(join(dataDir, 'chatter.db'), { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(db.pragma('foreign_key_check'), []);
    } finally {
      db.close();
    }

    server = await startTestServer({ dataDir });
    try {
      const res = await fetch(`${server.url}/api/rooms/general/messages?limit=50`, { headers: { authorization: `Bearer ${ana.token}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { messages: { seq: number; text: string; author: { id: number } }[] };
      assert.equal(body.messages.length, 50);
      const last = body.messages.at(-1)!;
      assert.equal(last.seq, seeded.lastSeq);
      assert.match(last.text, /^#3000 /);
      assert.equal(last.author.id, [ana.user.id, ben.user.id][3000 % 2]);
      // A new message goes on after the seeded ones: the room's seq was moved with them.
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}${chatterWsPath()}`, { headers: { authorization: `Bearer ${ben.token}` } });
      const seq = await new Promise<number>((resolve, reject) => {
        ws.on('error', reject);
        ws.on('message', (data) => {
          for (const line of data.toString().split('\n')) {
            const frame = JSON.parse(line);
            if (frame.type === 'hello') ws.send(chatterSend('general', 'after-seed-1', 'after the seed'));
            if (frame.type === 'event' && frame.event.kind === 'message_created') resolve(frame.event.message.seq);
          }
        });
      });
      ws.terminate();
      assert.equal(seq, seeded.lastSeq + 1);
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
