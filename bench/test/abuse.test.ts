// The abuse scenario's own correctness: the payloads it builds, how it labels and judges what it
// measured, and one short attack end to end against a real server.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '@chatter/server/testing';
import { Histogram } from '../lib/stats.mjs';
import { RAISED_LIMITS, chatterEnv } from '../lib/targets.mjs';
import abuse, {
  ATTACKER_USERS,
  ATTACKS,
  NORMAL_USERS,
  RSS_BOUND_MIB,
  controlText,
  httpOutcome,
  judge,
  oversizedLoginBody,
  peakKiB,
  refusedHttp,
} from '../scenarios/abuse.mjs';

describe('abuse scenario: payloads', () => {
  test('control text escapes to 6 bytes a character in JSON (24 KB a message)', () => {
    const text = controlText();
    assert.equal([...text].length, 4000);
    assert.equal(JSON.stringify(text).length, 4000 * 6 + 2);
  });

  test('the oversized login body is valid JSON of about the size asked, full of unknown keys', () => {
    const body = oversizedLoginBody(1_000_000);
    assert.ok(body.length >= 1_000_000 && body.length < 1_000_020, `${body.length} bytes`);
    const parsed = JSON.parse(body) as Record<string, unknown>;
    assert.equal(parsed.username, 'nobody');
    assert.ok(Object.keys(parsed).length > 50_000);
    assert.equal(JSON.parse(oversizedLoginBody(10)).password, 'wrong password', 'never smaller than a login');
  });

  test('the plan runs every reproduction of the issue, each on its own step, with the server\'s own limits', () => {
    for (const quick of [true, false]) {
      const plan = abuse.plan({ quick });
      assert.deepEqual(plan.steps.map((s: { key: string }) => s.key), ['resume', 'history', 'sockets', 'bodies', 'avatars', 'registrations']);
      assert.equal(plan.chatterDataDir, 'own');
      const env = plan.targetEnv('chatter', plan.steps[0]);
      // Every limit the bench raises for its load is put back to the server's default.
      const raised = chatterEnv({ port: 1, dataDir: '/tmp/x' });
      const names = Object.keys(raised).filter((name) => raised[name] === '1000000');
      assert.ok(names.includes('CHATTER_MESSAGES_PER_SECOND') && names.includes('CHATTER_LOGIN_MAX_PER_IP'));
      for (const name of names) assert.equal(env[name], '', name);
      assert.deepEqual(Object.keys(env).sort(), Object.keys(RAISED_LIMITS).sort());
      const p = plan.steps[0].params;
      // Bounded: every step ends within its budget plus fixed waits, so the scenario cannot hang.
      assert.ok(p.budgetMs <= 7000 && p.baselineMs + p.warmupMs + p.drainMs <= 5000);
      // The normal users stay under the default 10 messages/s each.
      assert.ok(p.rate / NORMAL_USERS < 10);
    }
    const sizes = Object.fromEntries(ATTACKS.map((a: { key: string; params: Record<string, number> }) => [a.key, a.params]));
    assert.equal(sizes.resume.frames, 40);
    assert.equal(sizes.history.frames, 2000);
    assert.equal(sizes.sockets.sockets, 300);
    assert.equal(sizes.avatars.uploads, 8);
    assert.ok(sizes.avatars.uploads <= ATTACKER_USERS);
    assert.equal(sizes.registrations.requests, 40);
  });
});

describe('abuse scenario: labels and verdicts', () => {
  test('rounds: the p99 verdict is on the median ratio, the RSS verdict on the highest peak of any round', () => {
    const hist = (micros: number) => {
      const h = new Histogram();
      for (let i = 0; i < 100; i++) h.record(micros);
      return h.toJSON();
    };
    const round = (i: number, duringMs: number, peakMiB: number) => ({
      step: 'avatars',
      round: i,
      params: { rate: 30, baselineMs: 2500, minWindowMs: 2500, budgetMs: 7000, drainMs: 1000 },
      result: {
        attack: 'avatars',
        rssBeforeKiB: 120 * 1024,
        peakRssKiB: peakMiB * 1024,
        abortedAtKiB: null,
        serverAlive: true,
        attacker: { attempted: 8, refused: 8, unit: 'uploads', outcomes: { 'HTTP 400 validation_failed': 8 }, notes: '' },
        baseline: { latency: hist(10_000), undelivered: 0 },
        during: { latency: hist(duringMs * 1000), undelivered: i },
        signIn: { before: { status: 200, ms: 0.25 }, during: { status: 200, ms: 0.25 } },
      },
    });
    // Ratios 1×, 5× and 1.5×: one bad round does not decide it, and nor does one good one.
    const met = abuse.report([round(0, 10, 130), round(1, 50, 390), round(2, 15, 140)]);
    const [rss, p99] = met.verdicts;
    assert.equal(p99.met, true, p99.measured);
    assert.match(p99.measured, /1\.5× \(1\.0–5\.0\), median of 3 rounds/);
    assert.equal(rss.met, false, 'one round over the bound is over the bound');
    assert.match(rss.measured, /^390 MB \(highest of 3 rounds\)/);
    assert.match(met.markdown, /ran 3 times/);
    const missed = abuse.report([round(0, 30, 130), round(1, 50, 130), round(2, 15, 130)]);
    assert.equal(missed.verdicts[1].met, false, 'median 3×');
  });

  test('HTTP outcomes carry the catalogue code when the answer has one', () => {
    assert.equal(httpOutcome(429, '{"error":{"code":"rate_limited","message":"Slow down."}}'), 'HTTP 429 rate_limited');
    assert.equal(httpOutcome(201, '{"user":{"id":1}}'), 'HTTP 201');
    assert.equal(httpOutcome(400, '{"error":{"code":"validation_failed","message":"' + 'x'.repeat(600)), 'HTTP 400 validation_failed');
    assert.equal(httpOutcome(502, undefined), 'HTTP 502');
  });

  test('refused means a 4xx or 5xx answer, not a timeout or a success', () => {
    assert.equal(refusedHttp({ 'HTTP 201': 3, 'HTTP 429 rate_limited': 2, 'HTTP 503 unavailable': 4, 'no answer by the deadline': 7, ECONNRESET: 1 }), 6);
    assert.equal(refusedHttp({}), 0);
  });

  test('peak RSS takes the highest of the samples and the high-water mark, ignoring what could not be read', () => {
    assert.equal(peakKiB([100, 300, 200], 250), 300);
    assert.equal(peakKiB([100], 400), 400);
    assert.equal(peakKiB([100], null), 100);
    assert.equal(peakKiB([], null), null);
  });

  test('judges RSS against the bound and p99 against twice the baseline; missing figures are not judged', () => {
    const mb = 1024;
    assert.deepEqual(judge({ peakRssKiB: RSS_BOUND_MIB * mb, baselineP99: 1000, attackP99: 2000 }), { rssMet: true, p99Met: true, ratio: 2 });
    assert.deepEqual(judge({ peakRssKiB: RSS_BOUND_MIB * mb + 1, baselineP99: 1000, attackP99: 2001 }), { rssMet: false, p99Met: false, ratio: 2.001 });
    assert.deepEqual(judge({ peakRssKiB: null, baselineP99: NaN, attackP99: 5 }), { rssMet: null, p99Met: null, ratio: null });
    assert.deepEqual(judge({ peakRssKiB: 1, baselineP99: 0, attackP99: 5 }), { rssMet: true, p99Met: null, ratio: null });
  });
});

describe('abuse scenario: end to end', () => {
  const servers: TestServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  const common = { rate: 15, warmupMs: 200, baselineMs: 600, minWindowMs: 600, budgetMs: 5000, drainMs: 1500, holdMs: 100 };

  /** One step on a fresh server, as the bench runs it (a reused server would see its clientIds again). */
  async function run(params: Record<string, unknown>) {
    const server = await startTestServer();
    servers.push(server);
    const tokens: { username: string; id: number; token: string }[] = [];
    for (let i = 0; i < NORMAL_USERS + ATTACKER_USERS; i++) {
      const u = await server.register(`abuse_smoke_${i}`, 'bench-password-1');
      tokens.push({ username: u.username, id: u.user.id, token: u.token });
    }
    const port = Number(new URL(server.url).port);
    const started = Date.now();
    const result = await abuse.load(params, {
      // The server runs in this process: its RSS is this process's.
      target: { kind: 'chatter', host: '127.0.0.1', port, url: server.url, pid: process.pid },
      tokens,
      extra: { attackerAddress: '127.0.66.66', stamp: `smoke${started}`, seededLastSeq: 0 },
      log: () => {},
    });
    assert.ok(Date.now() - started < 15_000, 'bounded');
    return result;
  }

  test('sockets and frame floods: the attacker opens its sockets, sends, and every answer is counted', async () => {
    const sockets = await run({ ...common, attack: 'sockets', sockets: 5, perSocket: 2 });
    assert.equal(sockets.attacker.outcomes.opened, 5, JSON.stringify(sockets.attacker));
    const answered = Object.entries(sockets.attacker.outcomes as Record<string, number>)
      .filter(([label]) => label === 'ack' || label.startsWith('error '))
      .reduce((sum, [, n]) => sum + n, 0);
    assert.equal(answered, 10, 'every message acked or refused');
    assert.match(sockets.attacker.notes, /of 10 messages stored/);

    const history = await run({ ...common, attack: 'history', frames: 20 });
    assert.equal(history.attacker.attempted, 20);
    const counted = Object.values(history.attacker.outcomes as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.ok(counted >= 1 && counted <= 21, JSON.stringify(history.attacker));
  });

  test('an attack runs in its worker within its budget, and the report judges it', async () => {
    const params = { ...common, attack: 'bodies', requests: 6, bytes: 20_000, concurrency: 3 };
    const result = await run(params);
    assert.equal(result.attack, 'bodies');
    assert.equal(result.attacker.attempted, 6);
    assert.equal(Object.values(result.attacker.outcomes as Record<string, number>).reduce((a, b) => a + b, 0), 6, JSON.stringify(result.attacker));
    assert.equal(result.attacker.refused, 6, 'a login with thousands of unknown keys is refused one way or another');
    assert.ok(result.peakRssKiB > 0 && result.rssBeforeKiB > 0);
    assert.equal(result.signIn.before.status, 200);
    assert.equal(result.signIn.during.status, 200);
    assert.ok(Histogram.fromJSON(result.baseline.latency).count > 0);
    assert.ok(Histogram.fromJSON(result.during.latency).count > 0);
    assert.equal(result.during.undelivered, 0);
    assert.deepEqual(result.normalCloses, []);

    const report = abuse.report([{ step: 'bodies', params, result }]);
    assert.equal(report.verdicts.length, 2);
    assert.match(report.verdicts[0].target, /peak RSS/);
    assert.match(report.verdicts[1].target, /p99/);
    assert.match(report.markdown, /1 MB JSON bodies/);
    assert.match(report.markdown, /6 of 6 requests refused/);
  });
});
