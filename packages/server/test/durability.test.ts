import { CLOSE_CODES, type HistoryResponse, type Message } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spawnServer, type SpawnedServer } from '../src/testing.js';
import { connect, sleep, uniqueName } from './wsclient.js';

async function allMessages(server: SpawnedServer, token: string): Promise<Message[]> {
  const out: Message[] = [];
  let after = 0;
  for (;;) {
    const res = await fetch(`${server.url}/api/rooms/general/messages?after=${after}&limit=100`, { headers: { authorization: `Bearer ${token}` } });
    const page = (await res.json()) as HistoryResponse;
    out.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return out;
    after = page.messages.at(-1)!.seq;
  }
}

describe('durability', () => {
  test('SIGKILL mid-stream loses no acknowledged message; clients resume without gaps or duplicates', async () => {
    const server = await spawnServer({ env: { CHATTER_MESSAGES_PER_SECOND: '10000', CHATTER_MESSAGE_BURST: '10000', CHATTER_LOG_LEVEL: 'warn' } });
    try {
      const sender = await server.register(uniqueName('sender'));
      const reader = await server.register(uniqueName('reader'));
      const r1 = connect(server.wsUrl, { token: reader.token, params: { history: '0' } });
      const s1 = connect(server.wsUrl, { token: sender.token, params: { history: '0' } });
      await Promise.all([r1.next('hello'), s1.next('hello')]);

      const total = 400;
      const acked = new Set<string>();
      s1.ws.on('message', () => {
        for (const a of s1.all('ack')) acked.add(a.clientId);
      });
      // Stream sends; kill the server hard once a good part has been acknowledged.
      let sent = 0;
      const pump = setInterval(() => {
        for (let k = 0; k < 4 && sent < total; k++, sent++) s1.send({ type: 'send', room: 'general', clientId: `k-${sent}`, text: `msg ${sent}` });
      }, 2);
      while (acked.size < 120) await sleep(5);
      await server.kill('SIGKILL');
      clearInterval(pump);
      const ackedBeforeKill = new Set(acked);
      await Promise.all([r1.closed, s1.closed]);
      const seenBefore = r1.messages().map((f) => f);

      await server.restart();
      // Every acknowledged message survived the crash.
      const afterRestart = await allMessages(server, reader.token);
      const storedIds = afterRestart.map((m) => m.clientId);
      for (const id of ackedBeforeKill) assert.ok(storedIds.includes(id), `acked ${id} was lost`);

      // The reader resumes from the last seq it saw; the sender resends everything unacked with
      // the same client ids, plus what it never sent.
      const lastSeen = seenBefore.at(-1)?.seq ?? 0;
      const r2 = connect(server.wsUrl, { token: reader.token, params: { resume: `general:${lastSeen}` } });
      const s2 = connect(server.wsUrl, { token: sender.token, params: { history: '0' } });
      await Promise.all([r2.next('hello'), s2.next('hello')]);
      for (let i = 0; i < total; i++) if (!ackedBeforeKill.has(`k-${i}`)) s2.send({ type: 'send', room: 'general', clientId: `k-${i}`, text: `msg ${i}` });
      await s2.waitCount('ack', total - ackedBeforeKill.size, 15_000);

      // Reader's view: live before the crash + replay + live after, deduplicated by seq, is exactly
      // 1..N with every clientId once.
      const deadline = Date.now() + 10_000;
      let view = new Map<number, Message>();
      for (;;) {
        view = new Map(seenBefore.map((m) => [m.seq, m]));
        // (Rebuilt on each poll; a seq seen twice within one pass is a real duplicate.)
        for (const f of r2.frames) {
          const list =
            f.type === 'history'
              ? f.messages
              : f.type === 'events'
                ? f.events.flatMap((e) => (e.kind === 'message_created' ? [e.message] : []))
                : f.type === 'event' && f.event.kind === 'message_created'
                  ? [f.event.message]
                  : [];
          for (const m of list) {
            assert.ok(!view.has(m.seq) || view.get(m.seq) === m, `seq ${m.seq} arrived twice`);
            view.set(m.seq, m);
          }
        }
        if (view.size >= total || Date.now() > deadline) break;
        await sleep(50);
      }
      const ordered = [...view.keys()].sort((a, b) => a - b);
      // The log starts with the two registrations' member_joined events: messages are seqs 3..N+2.
      assert.deepEqual(ordered, Array.from({ length: total }, (_, i) => i + 3), 'no gaps');
      const ids = [...view.values()].map((m) => m.clientId);
      assert.equal(new Set(ids).size, total, 'each message once');
      const stored = await allMessages(server, reader.token);
      assert.equal(stored.length, total, 'no message stored twice');
      await Promise.all([r2.close(), s2.close()]);
    } finally {
      await server.dispose();
    }
  });

  test('SIGTERM: in-flight sends are stored and acked, sockets close with 1001, the process exits 0', async () => {
    const server = await spawnServer({ env: { CHATTER_MESSAGES_PER_SECOND: '10000', CHATTER_MESSAGE_BURST: '10000', CHATTER_LOG_LEVEL: 'warn' } });
    try {
      const u = await server.register(uniqueName('term'));
      const s = connect(server.wsUrl, { token: u.token, params: { history: '0' } });
      await s.next('hello');
      for (let i = 0; i < 200; i++) s.send({ type: 'send', room: 'general', clientId: `t-${i}`, text: `m ${i}` });
      await s.next('ack');
      const exit = server.stop();
      const { code } = await s.closed;
      assert.equal(code, CLOSE_CODES.going_away);
      assert.equal(await exit, 0);
      const acked = s.all('ack').map((a) => a.clientId);
      await server.restart();
      const stored = (await allMessages(server, u.token)).map((m) => m.clientId);
      // Whatever was acked is stored; nothing is stored twice; what was stored but whose ack was
      // lost is only possible if the socket closed first, which graceful shutdown prevents.
      for (const id of acked) assert.ok(stored.includes(id), `acked ${id} missing after graceful restart`);
      assert.equal(new Set(stored).size, stored.length);
      assert.deepEqual(stored, acked, 'stored exactly what was acked, in order');
      // Refused while shutting down: new connections cannot sneak in. (Checked via a fresh start.)
      const again = connect(server.wsUrl, { token: u.token });
      await again.next('hello');
      await again.close();
    } finally {
      await server.dispose();
    }
  });
});
