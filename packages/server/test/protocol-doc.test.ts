import { CLIENT_FRAMES, CLOSE_CODES, ERRORS, SERVER_FRAMES } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startTestServer } from '../src/testing.js';

// "When a test and this document disagree, one of them is wrong": docs/protocol.md must name
// everything the protocol package and the server define.
const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

test('every WebSocket frame type is documented', () => {
  for (const type of [...Object.keys(CLIENT_FRAMES), ...Object.keys(SERVER_FRAMES)]) {
    assert.ok(doc.includes(`| \`${type}\` |`), `frame type ${type} missing from the frame tables`);
  }
});

test('every error code is documented with its HTTP status', () => {
  for (const [code, { status }] of Object.entries(ERRORS)) {
    assert.ok(doc.includes(`| \`${code}\` | ${status} |`), `error ${code} (${status}) missing from the error table`);
  }
});

test('every close code is documented', () => {
  for (const [name, code] of Object.entries(CLOSE_CODES)) {
    assert.ok(doc.includes(`| ${code} | \`${name}\` |`), `close code ${code} ${name} missing from the close-code table`);
  }
});

test('every REST route the server serves is documented', async () => {
  const server = await startTestServer();
  try {
    const spec = (await (await fetch(`${server.url}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    assert.ok(routes.length >= 10, `expected the OpenAPI document to list the routes, got ${routes.length}`);
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const documented = doc.includes(`\`${method} ${path}\``) || doc.includes(`\`${method} ${path}?`) || new RegExp(`\`${method} ${path.replace(/[/:]/g, '\\$&')}[\`?,]`).test(doc);
      assert.ok(documented || doc.includes(`${method} ${path}`), `route ${route} is not in docs/protocol.md`);
    }
  } finally {
    await server.close();
  }
});
