import { ECHO_MAX_CHARS, MAX_FIELD_ERRORS, parseClientFrame } from '@chatter/protocol/validate';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call, expectError } from './http-helpers.js';
import { connect, uniqueName } from './wsclient.js';

/* What a script can send as a body or a frame, and how little comes back: small limits, short echoes. */

describe('bodies and echoes', () => {
  let server: TestServer;
  let alice: TestUser;
  before(async () => {
    server = await startTestServer();
    alice = await server.register(uniqueName('alice'));
  });
  after(() => server.close());

  describe('request bodies', () => {
    test('a 1 MB body to /api/login is refused with a small 413, unread', async () => {
      // 1 MB, just under the old 1 MiB limit, which read, parsed and validated all of it.
      const body = JSON.stringify({ username: 'x', password: 'y'.repeat(999_960) });
      assert.ok(body.length <= 1_000_000 && body.length > 999_900);
      const res = await call(server.url, 'POST', '/api/login', { raw: body });
      expectError(res, 413, 'payload_too_large');
      assert.ok(res.text.length < 200, `${res.text.length} bytes`);
    });

    test('a body just over the default 16 KiB is refused; one under it is read', async () => {
      const over = JSON.stringify({ username: 'x', password: 'p', pad: 'y'.repeat(16 * 1024) });
      expectError(await call(server.url, 'POST', '/api/login', { raw: over }), 413, 'payload_too_large');
      const under = JSON.stringify({ username: 'x', password: 'p', pad: 'y'.repeat(8 * 1024) });
      const error = expectError(await call(server.url, 'POST', '/api/login', { raw: under }), 400, 'validation_failed');
      assert.equal(error.details?.fields?.pad, 'Unknown field.');
    });

    test(`10,000 unknown keys: a small answer naming at most ${MAX_FIELD_ERRORS} fields, none echoed past ${ECHO_MAX_CHARS} characters`, async () => {
      // The cap holds even where an operator raised the body limit.
      const big = await startTestServer({ bodyLimitBytes: 4 * 1024 * 1024 });
      try {
        const body: Record<string, unknown> = { username: 'someone', password: 'whatever' };
        for (let i = 0; i < 10_000; i++) body[`k${i}_${'z'.repeat(i < 3 ? 300 : 0)}`] = i;
        const res = await call(big.url, 'POST', '/api/login', { json: body });
        const error = expectError(res, 400, 'validation_failed');
        const fields = Object.keys(error.details?.fields ?? {});
        assert.ok(fields.length >= 1 && fields.length <= MAX_FIELD_ERRORS, fields.join(','));
        for (const f of fields) assert.ok(f.length <= ECHO_MAX_CHARS + 1, `${f.length}: ${f}`);
        assert.ok(res.text.length < 1024, `${res.text.length} bytes`);
      } finally {
        await big.close();
      }
    });

    test('the picture upload keeps its own, larger limit', async () => {
      // 64 KiB of a non-image: past the JSON limit, so refused for what it is (415), not for size.
      const res = await fetch(`${server.url}/api/me/avatar`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/octet-stream' },
        body: Buffer.alloc(64 * 1024, 1),
      });
      const text = await res.text();
      expectError({ status: res.status, headers: res.headers, text, body: JSON.parse(text) }, 415, 'unsupported_media_type');
    });
  });

  describe('WebSocket frames echo at most a short prefix', () => {
    test('a 60,000-character unknown type', async () => {
      const a = connect(server.wsUrl, { token: alice.token, params: { history: '0' } });
      await a.next('hello');
      a.send({ type: 't'.repeat(60_000), ref: 'r'.repeat(4000) });
      const error = await a.next('error');
      assert.equal(error.code, 'unknown_type');
      assert.ok(JSON.stringify(error).length < 400, JSON.stringify(error).slice(0, 500));
      assert.match(error.message, new RegExp(`"${'t'.repeat(ECHO_MAX_CHARS)}…"`));
      assert.equal(error.ref, undefined, 'a ref longer than any valid one is not echoed');
      await a.close();
    });

    test('non-string types, long field names, many unknown fields', () => {
      const obj = parseClientFrame(JSON.stringify({ type: { nested: 'x'.repeat(10_000) } }));
      assert.ok(!obj.ok && obj.message.length < 200 && /\(a JSON object\)/.test(obj.message), JSON.stringify(obj).slice(0, 300));
      const frame: Record<string, unknown> = { type: 'ping' };
      for (let i = 0; i < 5000; i++) frame[`${'f'.repeat(100)}${i}`] = 1;
      const many = parseClientFrame(JSON.stringify(frame));
      assert.ok(!many.ok);
      assert.equal(many.code, 'validation_failed');
      assert.ok(Object.keys(many.fields ?? {}).length <= MAX_FIELD_ERRORS);
      assert.ok(JSON.stringify(many).length < 1000, `${JSON.stringify(many).length}`);
    });
  });
});
