/** HTTP helpers for tests: one way to call a route and one check of the error shape. */
import type { ERRORS, ErrorBody } from '@chatter/protocol';
import assert from 'node:assert/strict';

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
