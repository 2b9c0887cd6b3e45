import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from '../src/index.js';
import { closeAllClients, recordClient, waitFor } from './helpers.js';

describe('backoff', () => {
  afterEach(() => closeAllClients());

  test('the ceiling grows by the factor from the initial delay and stops at the maximum', () => {
    const opts = { initialDelayMs: 100, factor: 3, maxDelayMs: 1000 };
    assert.deepEqual([1, 2, 3, 4, 5, 50].map((n) => backoffCeiling(n, opts)), [100, 300, 900, 1000, 1000, 1000]);
    assert.equal(backoffCeiling(1), DEFAULT_BACKOFF.initialDelayMs);
    assert.equal(backoffCeiling(1000), DEFAULT_BACKOFF.maxDelayMs, 'no overflow to Infinity or NaN');
  });

  test('full jitter: anywhere from 0 up to the ceiling', () => {
    const opts = { initialDelayMs: 100, factor: 2, maxDelayMs: 1000 };
    assert.equal(backoffDelay(3, opts, () => 0), 0);
    assert.equal(backoffDelay(3, opts, () => 0.5), 200);
    assert.equal(backoffDelay(3, opts, () => 0.9999), 399);
    for (let attempt = 1; attempt <= 10; attempt++) {
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, opts);
        assert.ok(d >= 0 && d < backoffCeiling(attempt, opts), `attempt ${attempt}: ${d}`);
      }
    }
  });

  test('against a port where nothing listens: waits grow per attempt, stay under the cap, and are honoured', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const reconnect = { initialDelayMs: 40, factor: 2, maxDelayMs: 200 };
    // Always the longest wait, so the measured schedule is exact: 39, 79, 159, 199, 199 ms.
    const c = recordClient(`http://127.0.0.1:${port}`, 'token', { reconnect, random: () => 0.999 });
    c.client.connect();
    await waitFor(() => c.statuses.filter((s) => s.retryAt !== undefined).length >= 6, 'six scheduled retries');
    c.client.close();

    const waits = c.statuses.filter((s) => s.retryAt !== undefined);
    assert.deepEqual(waits.map((s) => s.attempt), [1, 2, 3, 4, 5, 6]);
    waits.forEach((w) => {
      const planned = w.retryAt! - w.at;
      const ceiling = backoffCeiling(w.attempt, reconnect);
      assert.ok(planned >= 0 && planned <= ceiling, `attempt ${w.attempt}: planned ${planned} ms, ceiling ${ceiling}`);
      assert.ok(planned >= ceiling * 0.999 - 5, `attempt ${w.attempt}: planned ${planned} ms close to ${ceiling}`);
      assert.equal(w.status, 'reconnecting');
      assert.equal(w.closeCode, 1006);
      // The attempt itself starts when promised (not early; late only by timer slack on a busy machine).
      const started = c.statuses[c.statuses.indexOf(w) + 1];
      if (started && started.status === 'reconnecting' && started.retryAt === undefined) {
        assert.ok(started.at >= w.retryAt! - 2, `attempt ${w.attempt} started ${w.retryAt! - started.at} ms early`);
        assert.ok(started.at <= w.retryAt! + 250, `attempt ${w.attempt} started ${started.at - w.retryAt!} ms late`);
      }
    });
    assert.equal(c.client.status, 'offline');
  });

  test('retryNow skips the wait', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const c = recordClient(`http://127.0.0.1:${port}`, 'token', { reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 }, random: () => 0.999 });
    c.client.connect();
    await waitFor(() => c.statuses.some((s) => s.retryAt !== undefined), 'first wait');
    c.client.retryNow();
    await waitFor(() => c.statuses.filter((s) => s.retryAt !== undefined).length === 2, 'second attempt failed without waiting a minute', 3000);
    assert.equal(c.statuses.filter((s) => s.retryAt !== undefined)[1]!.attempt, 2);
  });
});
