import { ChatterApi } from '@chatter/client';
import { startTestServer, storeMessages, type TestServer, type TestUser } from '@chatter/server/testing';
import type { HistoryResponse, Message } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CliProcess, runCli, runInProcess, tempConfigDir, uniqueName } from './helpers.js';

/*
 * `chatter send` and `chatter tail` end to end against a real server: arguments, stdin, JSON
 * lines, following live messages, and the failures a script has to be able to rely on (bad token,
 * server down, bad arguments): a clear one-line message and a non-zero exit, never a stack trace.
 */

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let config: ReturnType<typeof tempConfigDir>;

/** Every run gets an isolated config dir and talks to the test server with alice's token. */
function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { CHATTER_CONFIG_DIR: config.dir, CHATTER_SERVER: server.url, CHATTER_TOKEN: alice.token, ...extra };
}

async function history(room = 'general'): Promise<Message[]> {
  const res = await fetch(`${server.url}/api/rooms/${room}/messages?limit=100`, { headers: { Authorization: `Bearer ${alice.token}` } });
  assert.equal(res.status, 200);
  return ((await res.json()) as HistoryResponse).messages;
}

function assertNoStackTrace(output: string): void {
  assert.doesNotMatch(output, /\n\s+at .+:\d+:\d+/, `expected no stack trace in:\n${output}`);
}

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

before(async () => {
  server = await startTestServer();
  alice = await server.register(uniqueName('alice'));
  bob = await server.register(uniqueName('bob'));
  config = tempConfigDir();
});

after(async () => {
  await server.close();
  config.cleanup();
});

describe('chatter send', () => {
  test('sends the text given as arguments, waits for the ack and prints nothing', async () => {
    const text = `hello from the cli ${uniqueName()}`;
    const r = await runCli(['send', text], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const stored = (await history()).filter((m) => m.text === text);
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.author.username, alice.username);
  });

  test('with --json prints the acknowledgement: id, seq and room of the stored message', async () => {
    const text = `json ack ${uniqueName()}`;
    const r = await runCli(['send', '--json', text], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const ack = JSON.parse(r.stdout) as { id: number; seq: number; room: string; duplicate: boolean };
    assert.equal(ack.room, 'general');
    assert.equal(ack.duplicate, false);
    const stored = (await history()).find((m) => m.text === text);
    assert.equal(stored?.seq, ack.seq);
    assert.equal(stored?.id, ack.id);
  });

  test('two or more arguments: the first is the room; one argument is always the text', async () => {
    const r1 = await runCli(['send', 'general', 'room', 'then', 'words'], { env: env() });
    assert.equal(r1.code, 0, r1.stderr);
    const r2 = await runCli(['send', 'random'], { env: env() });
    assert.equal(r2.code, 0, r2.stderr);
    const texts = (await history()).map((m) => m.text);
    assert.ok(texts.includes('room then words'));
    assert.ok(texts.includes('random'), 'a single word is sent as text, not taken as a room');
  });

  test('reads the message from stdin when no text is given, keeping its lines', async () => {
    const text = `line one ${uniqueName()}\nline two`;
    const r = await runCli(['send'], { env: env(), input: `${text}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await history()).filter((m) => m.text === text).length, 1);
  });

  test('"-" reads stdin into a named room too', async () => {
    const text = `dash ${uniqueName()}`;
    const r = await runCli(['send', '--room', 'general', '-'], { env: env(), input: text });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await history()).filter((m) => m.text === text).length, 1);
  });

  test('an empty stdin is refused with a usage error', async () => {
    const r = await runCli(['send'], { env: env(), input: '  \n' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Nothing to send/);
  });

  test("a message over the server's limit is refused, and nothing is stored", async () => {
    const text = `${uniqueName('long')} ${'x'.repeat(4001)}`;
    const r = await runInProcess(['send', text], env());
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${[...text].length} characters long; the limit on ${server.url.replace(/[.]/g, '\\.')} is 4000\\. Nothing was sent\\.`));
    assert.equal((await history()).filter((m) => m.text === text).length, 0);
  });

  test("the limit is the server's: a server that takes longer messages takes them from `send` too", async () => {
    const roomy = await startTestServer({ messageMaxChars: 10_000 });
    try {
      const writer = await roomy.register(uniqueName('writer'));
      const on = { CHATTER_CONFIG_DIR: config.dir, CHATTER_SERVER: roomy.url, CHATTER_TOKEN: writer.token };
      const long = `${'y'.repeat(9_000)} end`;
      const ok = await runInProcess(['send', '--json', long], on);
      assert.equal(ok.code, 0, ok.stderr);
      const id = (JSON.parse(ok.stdout) as { id: number }).id;
      const res = await fetch(`${roomy.url}/api/rooms/general/messages?limit=10`, { headers: { Authorization: `Bearer ${writer.token}` } });
      const stored = ((await res.json()) as HistoryResponse).messages.find((m) => m.id === id);
      assert.equal(stored?.text, long);
      const over = await runInProcess(['send', 'z'.repeat(10_001)], on);
      assert.equal(over.code, 1);
      assert.match(over.stderr, /10001 characters long; the limit on .* is 10000\. Nothing was sent\./);
      assertNoStackTrace(over.stderr);
    } finally {
      await roomy.close();
    }
  });

  test('a room the user is not in: the CLI says so, before connecting, and exits 1', async () => {
    const r = await runCli(['send', 'nosuchroom', 'hi there'], { env: env() });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^chatter: You are not in a room named "nosuchroom"/);
    assertNoStackTrace(r.stderr);
    // Room names are display names: anything may be one, so a strange one is looked up too.
    const odd = await runInProcess(['send', 'Bad Room!', 'hi'], env());
    assert.equal(odd.code, 1);
    assert.match(odd.stderr, /You are not in a room named "Bad Room!"/);
  });

  test('a public room the user has not joined: says how to join', async () => {
    const name = uniqueName('lobby');
    await new ChatterApi({ baseUrl: server.url, token: bob.token }).createRoom({ name, visibility: 'public' });
    const r = await runCli(['send', '--room', name, 'hi'], { env: env() });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`You are not in #${name}: join it first`));
  });

  test('a bad token: a clear message pointing to `chatter login`, exit 1', async () => {
    const r = await runCli(['send', 'hi'], { env: env({ CHATTER_TOKEN: 'not-a-real-token' }) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^chatter: The token from CHATTER_TOKEN was not accepted by .+ Run `chatter login`\.\n$/);
    assertNoStackTrace(r.stderr);
  });

  test('--token overrides CHATTER_TOKEN', async () => {
    const text = `as bob ${uniqueName()}`;
    const r = await runCli(['send', '--token', bob.token, text], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await history()).find((m) => m.text === text)?.author.username, bob.username);
  });

  test('a server that is down: retries until --timeout, then says the message was not sent', async () => {
    const port = await closedPort();
    const started = Date.now();
    const r = await runCli(['send', '--timeout', '1.5', 'hello?'], { env: env({ CHATTER_SERVER: `http://127.0.0.1:${port}` }) });
    assert.equal(r.code, 1);
    assert.ok(Date.now() - started >= 1400);
    assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+ yet; retrying/);
    assert.match(r.stderr, /Gave up after 1\.5 s: could not connect to .+ The message was not sent\./);
    assertNoStackTrace(r.stderr);
  });

  test('not signed in: says how to sign in', async () => {
    const r = await runInProcess(['send', 'hi'], env({ CHATTER_TOKEN: undefined }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /You are not signed in to .+ Run `chatter login`/);
  });

  test('hints name the command that works where the user is (npm run chat --, npx chatter)', async () => {
    const viaNpmRun = { npm_lifecycle_event: 'chat', npm_command: 'run', npm_lifecycle_script: 'node packages/cli/bin/chatter.js' };
    const r1 = await runInProcess(['send', 'hi'], env({ CHATTER_TOKEN: undefined, ...viaNpmRun }));
    assert.match(r1.stderr, /Run `npm run chat -- login` \(or `npm run chat -- register` to create an account\)/);
    const r2 = await runInProcess(['sned'], env({ npm_lifecycle_event: 'npx', npm_command: 'exec', npm_lifecycle_script: 'chatter' }));
    assert.match(r2.stderr, /Run `npx chatter help`/);
    const help = await runInProcess(['--help'], env(viaNpmRun));
    assert.match(help.stdout, /^Usage: npm run chat -- \[command\] \[options\]$/m);
    assert.match(help.stdout, /npm run -s chat -- tail --json \| jq/);
  });

  test('unknown commands and options are usage errors (exit 2)', async () => {
    const r1 = await runInProcess(['sned', 'hi'], env());
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /Unknown command "sned"/);
    const r2 = await runInProcess(['send', '--bogus', 'hi'], env());
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /Unknown option --bogus/);
    const r3 = await runInProcess(['tail', '--timeout', '3'], env());
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /--timeout does not apply to `chatter tail`/);
  });

  test('--help and --version', async () => {
    const help = await runInProcess(['send', '--help'], env());
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: chatter send/);
    const version = await runCli(['--version'], { env: env() });
    assert.match(version.stdout, /^chatter \d+\.\d+\.\d+\n$/);
  });
});

describe('chatter tail', () => {
  test('--json --no-follow prints the last N messages as one JSON object per line, oldest first', async () => {
    const texts = [1, 2, 3].map((i) => `tail batch ${i} ${uniqueName()}`);
    for (const text of texts) assert.equal((await runCli(['send', text], { env: env() })).code, 0);
    const r = await runCli(['tail', '--json', '-n', '3', '--no-follow'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    const messages = lines.map((l) => JSON.parse(l) as Message);
    assert.deepEqual(messages.map((m) => m.text), texts);
    for (const m of messages) {
      assert.equal(m.room, 'general');
      assert.equal(m.author.username, alice.username);
      assert.equal(typeof m.seq, 'number');
      assert.equal(typeof m.createdAt, 'string');
    }
    assert.ok(messages[0]!.seq < messages[1]!.seq && messages[1]!.seq < messages[2]!.seq);
  });

  test('plain lines without escape sequences when stdout is not a terminal', async () => {
    const text = `plain \x1b[31mred\x1b[0m ${uniqueName()}`;
    // Control characters are refused in new messages (by the SDK, with the server's rule, so before
    // anything is sent: a usage error, like an empty message)...
    const refused = await runCli(['send', text], { env: env() });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /control characters/);
    // ...but a message stored before that rule (or by another server) may hold them: tail must not pass them on.
    await storeMessages(server, [{ roomId: 'general', authorId: alice.user.id, clientId: uniqueName('old'), text, createdAt: Date.now() }]);
    const r = await runCli(['tail', '-n', '1', '--no-follow'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d <${alice.username}> plain \\^\\[\\[31mred\\^\\[\\[0m `));
    assert.ok(!r.stdout.includes('\x1b'), 'no raw escape characters: neither ours nor the ones other people typed');
  });

  test('follows new messages as they arrive, from anyone, each once; SIGTERM ends it cleanly', async () => {
    const marker = `marker ${uniqueName()}`;
    assert.equal((await runCli(['send', marker], { env: env() })).code, 0);
    const tail = new CliProcess(['tail', '--json', '-n', '1'], env());
    try {
      // The marker is the initial history: once it is printed, tail is connected and following.
      await tail.waitFor((p) => p.stdout.includes(marker), 'the initial history');
      const first = `live one ${uniqueName()}`;
      assert.equal((await runCli(['send', '--token', bob.token, first], { env: env() })).code, 0);
      await tail.waitFor((p) => p.stdout.includes(first), 'the first live message');
      const second = `live two ${uniqueName()}`;
      assert.equal((await runCli(['send', second], { env: env() })).code, 0);
      await tail.waitFor((p) => p.stdout.includes(second), 'the second live message');
      const lines = tail.stdoutLines().map((l) => JSON.parse(l) as Message);
      assert.deepEqual(lines.map((m) => m.text), [marker, first, second]);
      assert.equal(lines[1]!.author.username, bob.username);
    } finally {
      const exit = await tail.stop('SIGTERM');
      assert.equal(exit.code, 0);
    }
  });

  test('a server that is down: tail says so once and keeps retrying', async () => {
    // Where the server should be, something that hangs up on every connection, and counts them:
    // each count is one more attempt by tail, the event to wait for instead of a time.
    let attempts = 0;
    const hangUp = createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((r) => hangUp.listen(0, '127.0.0.1', r));
    const { port } = hangUp.address() as { port: number };
    const tail = new CliProcess(['tail'], env({ CHATTER_SERVER: `http://127.0.0.1:${port}` }));
    try {
      await tail.waitFor((p) => /cannot reach http:\/\/127\.0\.0\.1:\d+; retrying until it answers/.test(p.stderr), 'the retry notice');
      const seen = attempts;
      await tail.waitFor(() => attempts >= seen + 2, 'two more attempts after the notice');
      assert.equal(tail.child.exitCode, null, 'still running');
      assert.equal(tail.stderr.match(/cannot reach/g)?.length, 1, 'said once, not once per attempt');
      assertNoStackTrace(tail.stderr);
    } finally {
      await tail.stop('SIGTERM');
      await new Promise<void>((r) => hangUp.close(() => r()));
    }
  });

  test('a bad token ends tail with exit 1 and a clear message', async () => {
    const r = await runCli(['tail'], { env: env({ CHATTER_TOKEN: 'nope' }) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not accepted/);
    assertNoStackTrace(r.stderr);
  });

  test('-n out of range is a usage error', async () => {
    const r = await runInProcess(['tail', '-n', '500'], env());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /-n takes a whole number from 0 to 100/);
  });
});
