import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildApp } from '../src/app.js';
import { loadConfig, type TrustProxy } from '../src/config.js';
import { clientIp } from '../src/http/client-ip.js';
import { isHttps } from '../src/http/origin.js';

/*
 * Who the client is behind proxies. Fastify (request.ip, request.protocol) and our own helpers
 * (clientIp for throttles and caps, isHttps for cookies and the Origin check) must agree, and a
 * client must not be able to pick its address by sending the headers itself.
 */

describe('CHATTER_TRUST_PROXY: whose X-Forwarded-* counts', () => {
  /** A real server with one extra route that reports what Fastify and our own helpers make of the request. */
  async function withServer(trustProxy: TrustProxy, run: (url: string) => Promise<void>): Promise<void> {
    const dataDir = mkdtempSync(join(tmpdir(), 'chatter-proxy-'));
    const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, dbFile: join(dataDir, 'chatter.db'), logLevel: 'silent', trustProxy, webDir: join(dataDir, 'none') });
    const app = await buildApp(config);
    app.get('/test/whoami', async (request) => ({
      fastify: request.ip,
      ours: clientIp(request.raw, config),
      protocol: request.protocol,
      https: isHttps(request.raw, config.trustProxy),
    }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    try {
      await run(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  async function whoami(url: string, headers: Record<string, string> = {}): Promise<{ ip: string; https: boolean }> {
    const body = (await (await fetch(`${url}/test/whoami`, { headers })).json()) as { fastify: string; ours: string; protocol: string; https: boolean };
    assert.equal(body.ours, body.fastify, 'clientIp and Fastify agree');
    assert.equal(body.https, body.protocol === 'https', 'isHttps and Fastify agree');
    return { ip: body.ours, https: body.https };
  }

  const spoof = { 'x-forwarded-for': '198.51.100.1, 203.0.113.9', 'x-forwarded-proto': 'https' };

  test('false (the default): a spoofed X-Forwarded-For and -Proto from the client are ignored', () =>
    withServer(false, async (url) => {
      assert.deepEqual(await whoami(url, spoof), { ip: '127.0.0.1', https: false });
    }));

  test('1 hop: the rightmost address (the one our proxy wrote) is the client', () =>
    withServer(1, async (url) => {
      assert.deepEqual(await whoami(url, spoof), { ip: '203.0.113.9', https: true });
      assert.deepEqual(await whoami(url), { ip: '127.0.0.1', https: false });
    }));

  test('2 hops: one further left', () =>
    withServer(2, async (url) => {
      assert.equal((await whoami(url, spoof)).ip, '198.51.100.1');
    }));

  test('a list that does not include the peer: nothing it says counts', () =>
    withServer(['10.0.0.0/8', '192.168.1.1'], async (url) => {
      assert.deepEqual(await whoami(url, spoof), { ip: '127.0.0.1', https: false });
    }));

  test('a list of proxies: the first address from the right that is not one of them', () =>
    withServer(['127.0.0.1', '203.0.113.0/24'], async (url) => {
      assert.deepEqual(await whoami(url, spoof), { ip: '198.51.100.1', https: true });
      assert.equal((await whoami(url, { 'x-forwarded-for': '192.0.2.7, 198.51.100.1' })).ip, '198.51.100.1');
    }));
});
