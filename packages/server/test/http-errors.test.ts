import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { asReply, call, expectError, expectSecurityHeaders, rawRequest } from './http-helpers.js';
import { uniqueName } from './wsclient.js';

/* Requests too broken to reach a route still get the catalogue's envelope, and never an echo of themselves. */

describe('malformed requests', () => {
  let server: TestServer;
  let alice: TestUser;
  let port: number;
  before(async () => {
    server = await startTestServer();
    port = Number(new URL(server.url).port);
    alice = await server.register(uniqueName('alice'));
  });
  after(() => server.close());

  test('a bad percent-encoding in the path: 400 bad_request, not FST_ERR_BAD_URL', async () => {
    for (const path of ['/api/avatars/%zz', `/api/rooms/%E0%A4%A/messages`]) {
      const res = await call(server.url, 'GET', path);
      expectError(res, 400, 'bad_request');
      assert.doesNotMatch(res.text, /FST_|%zz|%E0/);
      expectSecurityHeaders(res, path, { noStore: true });
    }
  });

  test('an over-long path parameter: 414 uri_too_long, without the path', async () => {
    const long = 'a'.repeat(5000);
    for (const path of [`/api/avatars/${long}`, `/api/rooms/${long}/messages`]) {
      const res = await call(server.url, 'GET', path, { token: alice.token });
      expectError(res, 414, 'uri_too_long');
      assert.doesNotMatch(res.text, /aaaaaaaaaa/);
      assert.ok(res.text.length < 300);
    }
  });

  test('20 KB of headers: 431 headers_too_large as JSON', async () => {
    const raw = await rawRequest(port, `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20_000)}\r\n\r\n`);
    const res = asReply(raw);
    expectError(res, 431, 'headers_too_large');
    expectSecurityHeaders(res, '431', { noStore: true });
  });

  test('a request line the parser cannot read: 400 bad_request as JSON', async () => {
    const raw = await rawRequest(port, 'NOT A REQUEST\r\n\r\n');
    expectError(asReply(raw), 400, 'bad_request');
  });

  test('an unknown long path: 404 not_found quoting at most its first 100 characters', async () => {
    const res = await call(server.url, 'GET', `/api/${'x'.repeat(8000)}`);
    const error = expectError(res, 404, 'not_found');
    assert.match(error.message, /^No route GET \/api\/x+…\.$/);
    assert.ok(res.text.length < 300, `${res.text.length} bytes`);
  });

  test('a Content-Length that is not a number: 400 bad_request, not validation_failed', async () => {
    const raw = await rawRequest(port, 'POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n{}');
    expectError(asReply(raw), 400, 'bad_request');
  });

  test('the server still answers afterwards', async () => {
    assert.equal((await call(server.url, 'GET', '/api/health')).status, 200);
  });
});
