import { spawnServer, type SpawnedServer, type TestUser } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { ChatterApi, type Message } from '../src/index.js';
import { assertAscending, closeAllClients, recordClient, texts, uniqueName, waitFor, type Recorded } from './helpers.js';

/** Every message with this prefix, as stored on the server: must be exactly `expected`, once each. */
async function assertStoredOnce(proc: SpawnedServer, user: TestUser, prefix: string, expected: string[]): Promise<void> {
  const api = new ChatterApi({ baseUrl: proc.url, token: user.token });
  const stored: Message[] = [];
  for (let after = 0; ; ) {
    const page = await api.history('general', { after, limit: 100 });
    stored.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) break;
    after = page.messages.at(-1)!.seq;
  }
  assert.deepEqual(texts(stored.filter((m) => m.text.startsWith(prefix))), expected);
}

function onlineBoth(a: Recorded, b: Recorded): () => boolean {
  return () => a.client.status === 'online' && b.client.status === 'online';
}

describe('SDK against a server process that stops, dies and freezes', () => {
  let proc!: SpawnedServer;
  before(async () => {
    proc = await spawnServer({ env: { CHATTER_MESSAGES_PER_SECOND: '1000', CHATTER_MESSAGE_BURST: '1000' } });
  });
  after(async () => {
    closeAllClients();
    await proc?.dispose();
  });
  afterEach(() => closeAllClients());

  test('stopped and restarted while messages are pending: each is delivered exactly once, no gaps', async () => {
    const [alice, bob] = await Promise.all([proc.register(uniqueName('sa')), proc.register(uniqueName('sb'))]);
    const a = recordClient(proc.url, alice.token);
    const b = recordClient(proc.url, bob.token);
    a.client.connect();
    b.client.connect();
    await waitFor(onlineBoth(a, b), 'both online');
    a.client.send('general', 'stop: warm-up');
    await waitFor(() => b.view().some((m) => m.text === 'stop: warm-up'), 'warm-up delivered');

    await proc.stop(); // SIGTERM: graceful, sockets closed with 1001
    await waitFor(() => a.client.status === 'reconnecting' && b.client.status === 'reconnecting', 'both reconnecting');
    assert.ok(a.statuses.some((s) => s.closeCode === 1001), 'going away');
    const expected = Array.from({ length: 5 }, (_, i) => `stop: while down ${i}`);
    for (const text of expected) a.client.send('general', text);
    assert.deepEqual(a.client.pending().map((p) => p.state), ['pending', 'pending', 'pending', 'pending', 'pending']);

    await proc.restart();
    await waitFor(() => a.client.pending().length === 0, 'alice outbox drained', 20_000);
    await waitFor(() => b.view().filter((m) => m.text.startsWith('stop: while down')).length === 5, 'bob has them all', 20_000);
    assert.deepEqual(texts(b.delivered.filter((m) => m.text.startsWith('stop: while down'))), expected);
    assert.deepEqual(texts(a.delivered.filter((m) => m.text.startsWith('stop: while down'))), expected);
    assertAscending(b.view(), 'bob');
    assertAscending(a.view(), 'alice');
    await assertStoredOnce(proc, alice, 'stop: while down', expected);
  });

  test('SIGKILL mid-stream and restart: nothing acked is lost, nothing is doubled, receivers see no gaps', async () => {
    const [alice, bob] = await Promise.all([proc.register(uniqueName('ka')), proc.register(uniqueName('kb'))]);
    const a = recordClient(proc.url, alice.token);
    const b = recordClient(proc.url, bob.token);
    a.client.connect();
    b.client.connect();
    await waitFor(onlineBoth(a, b), 'both online');
    const acked = new Set<string>();
    a.client.on('ack', (ack) => acked.add(ack.clientId));
    const expected = Array.from({ length: 40 }, (_, i) => `kill: ${String(i).padStart(2, '0')}`);
    const ids = expected.map((text) => a.client.send('general', text).clientId);

    await waitFor(() => acked.size >= 8, 'some acked');
    await proc.kill('SIGKILL');
    const ackedBeforeKill = ids.filter((id) => acked.has(id));
    assert.ok(ackedBeforeKill.length < 40, 'the kill landed mid-stream');
    await proc.restart();

    await waitFor(() => a.client.pending().length === 0, 'alice outbox drained', 20_000);
    await waitFor(() => b.view().filter((m) => m.text.startsWith('kill: ')).length === 40, 'bob has all 40', 20_000);
    assert.deepEqual(texts(b.delivered.filter((m) => m.text.startsWith('kill: '))), expected);
    assertAscending(b.view(), 'bob');
    assertAscending(a.view(), 'alice');
    await assertStoredOnce(proc, alice, 'kill: ', expected);
  });

  test('a frozen server (SIGSTOP) is detected by the heartbeat; the client reconnects when it thaws', async () => {
    const user = await proc.register(uniqueName('hb'));
    const c = recordClient(proc.url, user.token, { heartbeat: { pingIntervalMs: 100, timeoutMs: 600 }, connectTimeoutMs: 1000 });
    c.client.connect();
    await waitFor(() => c.client.status === 'online', 'online');
    const pid = proc.process.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const frozenAt = Date.now();
      await waitFor(() => c.client.status !== 'online', 'dead connection noticed', 5000);
      const noticed = Date.now() - frozenAt;
      // Not before the timeout; that the heartbeat noticed (not a slower TCP timeout) is its close code,
      // since an upper bound in ms would depend on the machine's load.
      assert.ok(noticed >= 500, `noticed after ${noticed} ms`);
      assert.equal(c.statuses.find((s) => s.status === 'reconnecting')?.closeCode, 4009);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(() => c.client.status === 'online', 'online again after the thaw', 15_000);
    c.client.send('general', 'after the freeze');
    await waitFor(() => c.view().some((m) => m.text === 'after the freeze'), 'chat works again');
    assertAscending(c.view());
  });
});
