import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { spawnServer, type SpawnedServer, type TestUser } from '../src/testing.js';

/*
 * Picture uploads against the server's memory, measured from outside: the server runs as a child
 * process and its resident set is read from /proc. Eight 6300x6300 GIFs uploaded at once used to take
 * one server from 253 MB to 1 GB: each was decoded whole (~200 MB), with nothing to stop eight at once.
 *
 * The bound asserted here is the one README documents for CHATTER_IMAGE_JOBS: at most that many
 * decodes at once, each holding at most 6 bytes x CHATTER_AVATAR_MAX_PIXELS (a GIF at the limit:
 * 2 x 16 MP x 6 B = 192 MB at the defaults), plus 64 MB for the bodies and the JavaScript heap.
 */

const MB = 1024 * 1024;
const JOBS = 2;
const MAX_PIXELS = 16_000_000;
const BOUND = JOBS * MAX_PIXELS * 6 + 64 * MB;

function kib(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1]) * 1024;
}

/** A solid colour compresses to a few KB however many pixels it claims, like the attack's files. */
const gif = (side: number) => sharp({ create: { width: side, height: side, channels: 3, background: { r: 20, g: 120, b: 220 } } }).gif().toBuffer();

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: { code: string; details?: { retryAfter?: number } } };
}

describe('picture uploads and server memory', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  let server: SpawnedServer;
  let users: TestUser[];

  before(async () => {
    server = await spawnServer({ env: { CHATTER_LOG_LEVEL: 'warn', CHATTER_IMAGE_JOBS: String(JOBS), CHATTER_AVATAR_MAX_PIXELS: String(MAX_PIXELS) } });
    users = await Promise.all(Array.from({ length: 8 }, (_, i) => server.register(`mem${i}`)));
    // Warm up: sharp and libvips loaded, their first allocations made, before the baseline.
    assert.equal((await upload(users[0]!, await sharp({ create: { width: 300, height: 300, channels: 3, background: '#888' } }).png().toBuffer())).status, 200);
  });
  after(() => server?.dispose());

  async function upload(user: TestUser, body: Buffer): Promise<Answer> {
    const res = await fetch(`${server.url}/api/me/avatar`, { method: 'PUT', headers: { authorization: `Bearer ${user.token}`, 'content-type': 'image/gif' }, body });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Answer['body'] };
  }

  /** Eight users upload `body` at once; returns the answers and the server's peak growth in bytes. */
  async function attack(body: Buffer): Promise<{ answers: Answer[]; growth: number }> {
    const pid = server.process.pid!;
    // "5" resets the peak (VmHWM) to the current resident set, so each attack is measured alone.
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const baseline = kib(pid, 'VmRSS');
    const answers = await Promise.all(users.map((u) => upload(u, body)));
    // VmHWM is the peak resident set since the process started: nothing between samples is missed.
    const growth = kib(pid, 'VmHWM') - baseline;
    return { answers, growth };
  }

  const statuses = (answers: Answer[]) => answers.map((a) => a.status).sort().join(',');

  test('eight 6300x6300 GIFs at once are refused from their headers, and memory stays within the bound', async (t) => {
    const { answers, growth } = await attack(await gif(6300));
    for (const a of answers) {
      assert.ok(a.status === 400 || a.status === 503, `status ${a.status}: ${JSON.stringify(a.body)}`);
      if (a.status === 400) assert.equal(a.body.error?.code, 'validation_failed');
    }
    t.diagnostic(`answers ${statuses(answers)}; the server grew by ${Math.round(growth / MB)} MB at its peak`);
    assert.ok(growth < BOUND, `the server grew by ${Math.round(growth / MB)} MB (bound ${Math.round(BOUND / MB)} MB); answers ${statuses(answers)}`);
  });

  test('eight 4000x4000 GIFs at once (the most pixels allowed): at most two decode, the rest answer 503 with Retry-After', async (t) => {
    const { answers, growth } = await attack(await gif(4000));
    const busy = answers.filter((a) => a.status === 503);
    assert.ok(answers.some((a) => a.status === 200), `some are processed: ${statuses(answers)}`);
    assert.ok(busy.length >= 1, `beyond ${JOBS} at once the server refuses: ${statuses(answers)}`);
    for (const a of answers) assert.ok(a.status === 200 || a.status === 503, `status ${a.status}: ${JSON.stringify(a.body)}`);
    for (const a of busy) {
      assert.equal(a.body.error?.code, 'unavailable');
      assert.ok(Number(a.retryAfter) >= 1, `Retry-After: ${a.retryAfter}`);
      assert.equal(a.body.error?.details?.retryAfter, Number(a.retryAfter));
    }
    t.diagnostic(`answers ${statuses(answers)}; the server grew by ${Math.round(growth / MB)} MB at its peak`);
    assert.ok(growth < BOUND, `the server grew by ${Math.round(growth / MB)} MB (bound ${Math.round(BOUND / MB)} MB); answers ${statuses(answers)}`);
  });
});
