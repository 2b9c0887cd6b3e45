// The connections-100k scenario's pure parts: its plan, how it spreads connections over source
// addresses and users, the fd cap, and that it stays out of the default run.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SCENARIOS } from '../scenarios/index.mjs';
import connections, {
  FD_MARGIN,
  PER_ADDRESS,
  PER_USER,
  connectionsPlan,
  capReason,
  connectionsThatFit,
  openFilesHardLimit,
  openFilesLimit,
  sourceAddress,
  userOf,
} from '../scenarios/connections.mjs';

describe('connections-100k scenario', () => {
  test('is registered and opt-in', () => {
    assert.ok(SCENARIOS.includes(connections));
    assert.equal(connections.id, 'connections-100k');
    assert.equal(connections.defaultRun, false);
    assert.deepEqual(connections.targets, ['chatter']);
  });

  test('plans 100,000 connections (5,000 quick) with enough addresses and users', () => {
    for (const quick of [false, true]) {
      const p = connectionsPlan({ quick });
      assert.equal(p.connections, quick ? 5000 : 100_000);
      assert.ok(p.addresses >= 2);
      // Each address stays well below the ~28,000 ephemeral ports of one source address.
      assert.ok(Math.ceil(p.connections / p.addresses) <= PER_ADDRESS);
      assert.ok(PER_ADDRESS < 28_000);
      assert.ok(p.users * PER_USER >= p.connections);
    }
    const full = connections.plan({ quick: false });
    assert.equal(full.chatterDataDir, 'own');
    assert.equal(full.targetEnv().CHATTER_MAX_SOCKETS_PER_USER, String(PER_USER));
  });

  test('spreads connections round robin over 127.0.0.2 and up', () => {
    const { connections: n, addresses } = connectionsPlan({ quick: false });
    const perAddress = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const a = sourceAddress(i, addresses);
      perAddress.set(a, (perAddress.get(a) ?? 0) + 1);
    }
    assert.equal(perAddress.size, addresses);
    assert.ok(!perAddress.has('127.0.0.1'));
    assert.equal(sourceAddress(0, addresses), '127.0.0.2');
    for (const count of perAddress.values()) assert.ok(count <= PER_ADDRESS, `${count} on one address`);
    assert.throws(() => sourceAddress(0, 300));
    assert.equal(sourceAddress(252, 253), '127.0.0.254');
  });

  test('gives every user at most PER_USER connections', () => {
    const { connections: n, users } = connectionsPlan({ quick: true });
    const perUser = new Array(users).fill(0);
    for (let i = 0; i < n; i++) perUser[userOf(i, users)]++;
    assert.ok(Math.max(...perUser) <= PER_USER);
  });

  test('caps the count at what both fd limits allow', () => {
    assert.equal(connectionsThatFit(100_000, [150_000, 150_000]), 100_000);
    assert.equal(connectionsThatFit(100_000, [20_000, 150_000]), 20_000 - FD_MARGIN);
    assert.equal(connectionsThatFit(100_000, [null, null]), 100_000);
    assert.equal(connectionsThatFit(5000, [Infinity, 20_000]), 5000);
    const own = openFilesLimit();
    assert.ok(own === null || own > 0);
    const hard = openFilesHardLimit();
    assert.ok(hard === null || (own !== null && hard >= own), 'the hard limit bounds the soft one');
  });

  test('says why it is capped, and that nothing is judged then', () => {
    assert.equal(capReason(100_000, 100_000, { server: 150_000, generator: 150_000 }), null);
    const why = capReason(100_000, 19_500, { server: 20_000, generator: 20_000 }) ?? '';
    assert.match(why, /^capped at 19,500 of 100,000 connections: the open-file limit is 20,000 for the server and 20,000 for the generator/);
    assert.match(why, /`ulimit -Hn` must be at least 100,500/);
    assert.match(why, /not judged/);
    const r = { connections: 100_000, attempted: 19_500, capped: why, fdLimits: { server: 20_000, generator: 20_000 }, connected: 19_500, seated: 19_500, back: 19_500, allBack: true, users: 10_000, perUser: 10, addresses: 7, setupPerSec: 1000, perConnectionKiB: 8, heapPerConnectionKiB: 4, rssAfterKiB: 200_000, stoppedMs: 1, healthyMs: 2, backMs: 3, backAfterHealthyMs: 1, retries: 0, gaps: 0, duplicates: 0, messages: 40, rssAfterRestartKiB: 1, connectErrors: {}, reconnectErrors: {}, closeCodes: {} };
    const report = connections.report([{ target: 'chatter', result: r }], { prepared: null });
    assert.match(report.markdown, /^\*\*Not the 100,000 connections this scenario is for: capped at 19,500/);
    for (const v of report.verdicts) {
      assert.equal(v.met, null);
      assert.equal(v.reason, 'capped at 19,500 connections by the open-file hard limit');
    }
  });
});
