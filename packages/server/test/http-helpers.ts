/** HTTP helpers for tests: one way to call a route and one check of the error shape. */
import type { ERRORS, ErrorBody } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { CONTENT_SECURITY_POLICY } from '../src/http/headers.js';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON, loosely typed: each test asserts the shape it expects. */
  body: any;
}

export interface CallOptions {
  json?: unknown;
  /** Sent as-is, with `contentType` (default application/json). */
  raw?: string;
  contentType?: string;
  token?: string;
  cookie?: string;
  origin?: string;
  headers?: Record<string, string>;
}

export async function call(base: string, method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = options.contentType ?? 'application/json';
  } else if (options.raw !== undefined) {
    body = options.raw;
    headers['content-type'] = options.contentType ?? 'application/json';
  } else if (options.contentType) headers['content-type'] = options.contentType;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = `chatter_session=${options.cookie}`;
  if (options.origin) headers.origin = options.origin;
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text.length > 0 && res.headers.get('content-type')?.includes('application/json')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** Asserts the one error shape (`{error:{code,message,details?}}`, no stack) and returns `error`. */
export function expectError(res: Reply, status: number, code: keyof typeof ERRORS): ErrorBody['error'] {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assert.deepEqual(Object.keys(res.body), ['error']);
  const error = res.body.error as ErrorBody['error'];
  assert.equal(error.code, code);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  for (const key of Object.keys(error)) assert.ok(['code', 'message', 'details'].includes(key), `unexpected key ${key}`);
  assert.doesNotMatch(res.text, /"stack"|\n\s+at |node_modules|\.ts:\d+/);
  return error;
}

/** One raw HTTP/1.1 exchange over TCP: for requests fetch would refuse or rewrite. */
export function rawRequest(port: number, request: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('error', (err) => (data ? undefined : reject(err)));
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
    socket.write(request);
  });
}

export function asReply(raw: { status: number; headers: Record<string, string>; body: string }): Reply {
  return { status: raw.status, headers: new Headers(raw.headers), text: raw.body, body: JSON.parse(raw.body) };
}

export function expectSecurityHeaders(res: { headers: Headers }, what: string, options: { noStore: boolean }): void {
  assert.equal(res.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, what);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer', what);
  assert.equal(res.headers.get('x-frame-options'), 'DENY', what);
  if (options.noStore) assert.equal(res.headers.get('cache-control'), 'no-store', what);
  else assert.notEqual(res.headers.get('cache-control'), 'no-store', what);
}
