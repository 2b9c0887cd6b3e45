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
  connectionsThatFit,
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
  });
});
