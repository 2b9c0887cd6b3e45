import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../src/config.js';

const serverRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(serverRoot, '../..');

describe('loadConfig', () => {
  test('defaults: a working server on 127.0.0.1:8000 with SQLite under ./data', () => {
    const config = loadConfig({});
    assert.deepEqual(config, {
      host: '127.0.0.1',
      port: 8000,
      dataDir: resolve('./data'),
      dbFile: resolve('./data/chatter.db'),
      sqliteSynchronous: 'full',
      logLevel: 'info',
      bcryptCost: 12,
      sessionTtlMs: 30 * 24 * 3_600_000,
      allowedOrigins: [],
      cookieSecure: 'auto',
      trustProxy: false,
      maxFrameBytes: 65_536,
      sendBufferCap: 1_048_576,
      messagesPerSecond: 10,
      messageBurst: 20,
      heartbeatMs: 30_000,
      authTimeoutMs: 10_000,
      historyOnConnect: 50,
      presenceIntervalMs: 500,
      presenceCountIntervalMs: 500,
      presenceCountMaxIntervalMs: 10_000,
      fanoutPace: 1,
      fanoutPaceMinMs: 0.5,
      fanoutPaceMaxMs: 50,
      fanoutChunk: 1000,
      loginMaxPerUser: 10,
      loginUserWindowMs: 900_000,
      loginMaxPerIp: 50,
      loginIpWindowMs: 60_000,
      webDir: config.webDir,
      avatarMaxPixels: 16_000_000,
      imageJobs: 2,
      avatarChangesPerHour: 10,
      bodyLimitBytes: 16_384,
      sessionMaxAgeMs: 90 * 86_400_000,
      loginBackoffMs: 30_000,
      loginMaxPerAccount: 100,
      loginAccountWindowMs: 900_000,
      deviceCookieTtlMs: 365 * 86_400_000,
      registerMaxPerIp: 10,
      registerIpWindowMs: 3_600_000,
      registerMaxTotal: 60,
      registerTotalWindowMs: 60_000,
      hashQueueMax: 64,
      framesPerSecond: 20,
      frameBurst: 60,
      userFramesPerSecond: 50,
      userFrameBurst: 150,
      rateLimitStrikes: 20,
      replyMaxBytes: 262_144,
      replyQueueMaxBytes: 262_144,
      maxSocketsPerUser: 20,
      maxSocketsPerIp: 200,
      maxUnauthenticatedSockets: 1000,
      closeGraceMs: 5000,
      listenBacklog: 511,
      roomCreatesPerHour: 10,
      dmOpensPerHour: 30,
      membershipChangesPerHour: 60,
      userSearchesPerMinute: 30,
      reactionsPerMinute: 60,
      typingForwardMs: 2500,
      messageMaxChars: 4000,
      replayCacheBytes: 16 * 1024 * 1024,
      presenceLeaveGraceMs: 30_000,
      accessCacheEntries: 100_000,
    });
    assert.ok(config.webDir.endsWith(join('packages', 'web', 'dist')), config.webDir);
  });

  test('empty and blank variables mean "use the default"', () => {
    assert.deepEqual(loadConfig({ CHATTER_PORT: '', CHATTER_LOG_LEVEL: '   ', CHATTER_BCRYPT_COST: '' }), loadConfig({}));
  });

  test('every variable is read, trimmed and converted', () => {
    const dir = resolve('/tmp/chatter-config-test');
    const config = loadConfig({
      CHATTER_HOST: '0.0.0.0',
      CHATTER_PORT: ' 9000 ',
      CHATTER_DATA_DIR: dir,
      CHATTER_SQLITE_SYNC: 'normal',
      CHATTER_LOG_LEVEL: 'warn',
      CHATTER_BCRYPT_COST: '10',
      CHATTER_SESSION_TTL_HOURS: '0.5',
      CHATTER_ALLOWED_ORIGINS: 'https://chat.example.com, http://localhost:5173',
      CHATTER_COOKIE_SECURE: 'true',
      CHATTER_TRUST_PROXY: 'yes',
      CHATTER_MAX_FRAME_BYTES: '131072',
      CHATTER_SEND_BUFFER_CAP: '65536',
      CHATTER_MESSAGES_PER_SECOND: '2.5',
      CHATTER_MESSAGE_BURST: '5',
      CHATTER_HEARTBEAT_MS: '1000',
      CHATTER_AUTH_TIMEOUT_MS: '2000',
      CHATTER_HISTORY_ON_CONNECT: '0',
      CHATTER_PRESENCE_INTERVAL_MS: ' 250 ',
      CHATTER_PRESENCE_COUNT_INTERVAL_MS: ' 750 ',
      CHATTER_PRESENCE_COUNT_MAX_INTERVAL_MS: ' 4000 ',
      CHATTER_FANOUT_PACE: '0.5',
      CHATTER_FANOUT_PACE_MIN_MS: '2',
      CHATTER_FANOUT_PACE_MAX_MS: '20',
      CHATTER_FANOUT_CHUNK: '250',
      CHATTER_LOGIN_MAX_PER_USER: '3',
      CHATTER_LOGIN_USER_WINDOW_S: '60',
      CHATTER_LOGIN_MAX_PER_IP: '7',
      CHATTER_LOGIN_IP_WINDOW_S: '30',
      CHATTER_WEB_DIR: '/srv/chatter-web',
      CHATTER_AVATAR_MAX_PIXELS: '1000000',
      CHATTER_IMAGE_JOBS: '1',
      CHATTER_AVATAR_CHANGES_PER_HOUR: '3',
      CHATTER_BODY_LIMIT_BYTES: '32768',
      CHATTER_SESSION_MAX_AGE_DAYS: '7',
      CHATTER_LOGIN_BACKOFF_S: '0.5',
      CHATTER_LOGIN_MAX_PER_ACCOUNT: '40',
      CHATTER_LOGIN_ACCOUNT_WINDOW_S: '600',
      CHATTER_DEVICE_COOKIE_DAYS: '30',
      CHATTER_REGISTER_MAX_PER_IP: '4',
      CHATTER_REGISTER_IP_WINDOW_S: '120',
      CHATTER_REGISTER_MAX_TOTAL: '20',
      CHATTER_REGISTER_TOTAL_WINDOW_S: '10',
      CHATTER_HASH_QUEUE_MAX: '8',
      CHATTER_FRAMES_PER_SECOND: '5',
      CHATTER_FRAME_BURST: '15',
      CHATTER_USER_FRAMES_PER_SECOND: '7.5',
      CHATTER_USER_FRAME_BURST: '30',
      CHATTER_RATE_LIMIT_STRIKES: '3',
      CHATTER_REPLY_MAX_BYTES: '65536',
      CHATTER_REPLY_QUEUE_MAX_BYTES: '0',
      CHATTER_MAX_SOCKETS_PER_USER: '4',
      CHATTER_MAX_SOCKETS_PER_IP: '40',
      CHATTER_MAX_UNAUTHENTICATED_SOCKETS: '100',
      CHATTER_CLOSE_GRACE_MS: '1000',
      CHATTER_LISTEN_BACKLOG: '4096',
      CHATTER_ROOM_CREATES_PER_HOUR: '5',
      CHATTER_DM_OPENS_PER_HOUR: '6',
      CHATTER_MEMBERSHIP_CHANGES_PER_HOUR: '7',
      CHATTER_USER_SEARCHES_PER_MINUTE: '8',
      CHATTER_REACTIONS_PER_MINUTE: '9',
      CHATTER_TYPING_FORWARD_MS: '0',
      CHATTER_MESSAGE_MAX_CHARS: '8000',
      CHATTER_REPLAY_CACHE_BYTES: '0',
      CHATTER_PRESENCE_LEAVE_GRACE_MS: '0',
      CHATTER_ACCESS_CACHE_ENTRIES: '0',
    });
    assert.deepEqual(config, {
      host: '0.0.0.0',
      port: 9000,
      dataDir: dir,
      dbFile: join(dir, 'chatter.db'),
      sqliteSynchronous: 'normal',
      logLevel: 'warn',
      bcryptCost: 10,
      sessionTtlMs: 1_800_000,
      allowedOrigins: ['https://chat.example.com', 'http://localhost:5173'],
      cookieSecure: true,
      trustProxy: 1,
      maxFrameBytes: 131_072,
      sendBufferCap: 65_536,
      messagesPerSecond: 2.5,
      messageBurst: 5,
      heartbeatMs: 1000,
      authTimeoutMs: 2000,
      historyOnConnect: 0,
      presenceIntervalMs: 250,
      presenceCountIntervalMs: 750,
      presenceCountMaxIntervalMs: 4000,
      fanoutPace: 0.5,
      fanoutPaceMinMs: 2,
      fanoutPaceMaxMs: 20,
      fanoutChunk: 250,
      loginMaxPerUser: 3,
      loginUserWindowMs: 60_000,
      loginMaxPerIp: 7,
      loginIpWindowMs: 30_000,
      webDir: resolve('/srv/chatter-web'),
      avatarMaxPixels: 1_000_000,
      imageJobs: 1,
      avatarChangesPerHour: 3,
      bodyLimitBytes: 32_768,
      sessionMaxAgeMs: 7 * 86_400_000,
      loginBackoffMs: 500,
      loginMaxPerAccount: 40,
      loginAccountWindowMs: 600_000,
      deviceCookieTtlMs: 30 * 86_400_000,
      registerMaxPerIp: 4,
      registerIpWindowMs: 120_000,
      registerMaxTotal: 20,
      registerTotalWindowMs: 10_000,
      hashQueueMax: 8,
      framesPerSecond: 5,
      frameBurst: 15,
      userFramesPerSecond: 7.5,
      userFrameBurst: 30,
      rateLimitStrikes: 3,
      replyMaxBytes: 65_536,
      replyQueueMaxBytes: 0,
      maxSocketsPerUser: 4,
      maxSocketsPerIp: 40,
      maxUnauthenticatedSockets: 100,
      closeGraceMs: 1000,
      listenBacklog: 4096,
      roomCreatesPerHour: 5,
      dmOpensPerHour: 6,
      membershipChangesPerHour: 7,
      userSearchesPerMinute: 8,
      reactionsPerMinute: 9,
      typingForwardMs: 0,
      messageMaxChars: 8000,
      replayCacheBytes: 0,
      presenceLeaveGraceMs: 0,
      accessCacheEntries: 0,
    });
    assert.equal(loadConfig({ CHATTER_DB_FILE: 'elsewhere/x.db' }).dbFile, resolve('elsewhere/x.db'));
    assert.equal(loadConfig({ CHATTER_COOKIE_SECURE: 'auto' }).cookieSecure, 'auto');
    assert.equal(loadConfig({ CHATTER_COOKIE_SECURE: 'false' }).cookieSecure, false);
    assert.equal(loadConfig({ CHATTER_TRUST_PROXY: '0' }).trustProxy, false);
    assert.equal(loadConfig({ CHATTER_TRUST_PROXY: 'false' }).trustProxy, false);
    // `true` once trusted any X-Forwarded-For chain; it now means the one reverse proxy in front.
    assert.equal(loadConfig({ CHATTER_TRUST_PROXY: 'true' }).trustProxy, 1);
    assert.equal(loadConfig({ CHATTER_TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ CHATTER_TRUST_PROXY: '10.0.0.1, 10.0.0.0/8,fd00::/8,loopback' }).trustProxy, ['10.0.0.1', '10.0.0.0/8', 'fd00::/8', 'loopback']);
    assert.equal(loadConfig({ CHATTER_PORT: '0' }).port, 0);
    assert.equal(loadConfig({ CHATTER_PORT: '65535' }).port, 65535);
  });

  test('overrides win over the environment', () => {
    const config = loadConfig({ CHATTER_PORT: '9000', CHATTER_BCRYPT_COST: '10' }, { port: 1234 });
    assert.equal(config.port, 1234);
    assert.equal(config.bcryptCost, 10);
  });

  const bad: [string, string][] = [
    ['CHATTER_PORT', 'abc'],
    ['CHATTER_PORT', '-1'],
    ['CHATTER_PORT', '65536'],
    ['CHATTER_PORT', '80.5'],
    ['CHATTER_PORT', '8000x'],
    ['CHATTER_SQLITE_SYNC', 'off'],
    ['CHATTER_LOG_LEVEL', 'verbose'],
    ['CHATTER_BCRYPT_COST', '3'],
    ['CHATTER_BCRYPT_COST', '17'],
    ['CHATTER_BCRYPT_COST', 'twelve'],
    ['CHATTER_SESSION_TTL_HOURS', '0'],
    ['CHATTER_SESSION_TTL_HOURS', '-5'],
    ['CHATTER_SESSION_TTL_HOURS', 'forever'],
    ['CHATTER_SESSION_TTL_HOURS', 'Infinity'],
    ['CHATTER_SESSION_TTL_HOURS', '9000'],
    ['CHATTER_ALLOWED_ORIGINS', 'chat.example.com'],
    ['CHATTER_ALLOWED_ORIGINS', 'https://chat.example.com/'],
    ['CHATTER_ALLOWED_ORIGINS', 'https://ok.example.com,ftp://bad.example.com'],
    ['CHATTER_COOKIE_SECURE', 'maybe'],
    ['CHATTER_TRUST_PROXY', 'y'],
    ['CHATTER_TRUST_PROXY', '33'],
    ['CHATTER_TRUST_PROXY', '-1'],
    ['CHATTER_TRUST_PROXY', '10.0.0.1,proxy.example.com'],
    ['CHATTER_TRUST_PROXY', '10.0.0.0/33'],
    ['CHATTER_MAX_FRAME_BYTES', '100'],
    ['CHATTER_MAX_FRAME_BYTES', '64k'],
    ['CHATTER_SEND_BUFFER_CAP', '1'],
    ['CHATTER_MESSAGES_PER_SECOND', '0'],
    ['CHATTER_MESSAGES_PER_SECOND', 'fast'],
    ['CHATTER_MESSAGE_BURST', '0'],
    ['CHATTER_MESSAGE_BURST', '1.5'],
    ['CHATTER_HEARTBEAT_MS', '50'],
    ['CHATTER_AUTH_TIMEOUT_MS', '999999999'],
    ['CHATTER_HISTORY_ON_CONNECT', '101'],
    ['CHATTER_PRESENCE_INTERVAL_MS', '-5'],
    ['CHATTER_PRESENCE_COUNT_INTERVAL_MS', 'often'],
    ['CHATTER_PRESENCE_COUNT_MAX_INTERVAL_MS', '-1'],
    ['CHATTER_FANOUT_PACE', '-1'],
    ['CHATTER_FANOUT_PACE', 'slow'],
    ['CHATTER_FANOUT_PACE_MIN_MS', '-0.1'],
    ['CHATTER_FANOUT_PACE_MAX_MS', '60001'],
    ['CHATTER_FANOUT_CHUNK', '0'],
    ['CHATTER_FANOUT_CHUNK', '1.5'],
    ['CHATTER_LOGIN_MAX_PER_USER', '0'],
    ['CHATTER_LOGIN_USER_WINDOW_S', '0'],
    ['CHATTER_LOGIN_MAX_PER_IP', 'many'],
    ['CHATTER_LOGIN_IP_WINDOW_S', '86401'],
    ['CHATTER_AVATAR_MAX_PIXELS', '1000'],
    ['CHATTER_AVATAR_MAX_PIXELS', '16M'],
    ['CHATTER_IMAGE_JOBS', '0'],
    ['CHATTER_IMAGE_JOBS', '2.5'],
    ['CHATTER_AVATAR_CHANGES_PER_HOUR', '0'],
    ['CHATTER_BODY_LIMIT_BYTES', '100'],
    ['CHATTER_BODY_LIMIT_BYTES', '16k'],
    ['CHATTER_SESSION_MAX_AGE_DAYS', '0'],
    ['CHATTER_LOGIN_BACKOFF_S', 'soon'],
    ['CHATTER_LOGIN_MAX_PER_ACCOUNT', '0'],
    ['CHATTER_LOGIN_ACCOUNT_WINDOW_S', '-1'],
    ['CHATTER_DEVICE_COOKIE_DAYS', '3651'],
    ['CHATTER_REGISTER_MAX_PER_IP', '1.5'],
    ['CHATTER_REGISTER_IP_WINDOW_S', '0'],
    ['CHATTER_REGISTER_MAX_TOTAL', 'lots'],
    ['CHATTER_REGISTER_TOTAL_WINDOW_S', '86401'],
    ['CHATTER_HASH_QUEUE_MAX', '0'],
    ['CHATTER_FRAMES_PER_SECOND', '0'],
    ['CHATTER_FRAME_BURST', '5'],
    ['CHATTER_USER_FRAMES_PER_SECOND', 'lots'],
    ['CHATTER_USER_FRAME_BURST', '1.5'],
    ['CHATTER_RATE_LIMIT_STRIKES', '0'],
    ['CHATTER_REPLY_MAX_BYTES', '1000'],
    ['CHATTER_REPLY_QUEUE_MAX_BYTES', '-1'],
    ['CHATTER_MAX_SOCKETS_PER_USER', '0'],
    ['CHATTER_MAX_SOCKETS_PER_IP', 'none'],
    ['CHATTER_MAX_UNAUTHENTICATED_SOCKETS', '0'],
    ['CHATTER_CLOSE_GRACE_MS', '10'],
    ['CHATTER_LISTEN_BACKLOG', '0'],
    ['CHATTER_LISTEN_BACKLOG', 'deep'],
    ['CHATTER_ROOM_CREATES_PER_HOUR', '0'],
    ['CHATTER_DM_OPENS_PER_HOUR', '1.5'],
    ['CHATTER_MEMBERSHIP_CHANGES_PER_HOUR', '-1'],
    ['CHATTER_USER_SEARCHES_PER_MINUTE', 'many'],
    ['CHATTER_REACTIONS_PER_MINUTE', '0'],
    ['CHATTER_TYPING_FORWARD_MS', '60001'],
    ['CHATTER_MESSAGE_MAX_CHARS', '0'],
    ['CHATTER_MESSAGE_MAX_CHARS', '65537'],
    ['CHATTER_MESSAGE_MAX_CHARS', '16k'],
    ['CHATTER_REPLAY_CACHE_BYTES', '-1'],
    ['CHATTER_PRESENCE_LEAVE_GRACE_MS', '-1'],
    ['CHATTER_PRESENCE_LEAVE_GRACE_MS', 'soon'],
    ['CHATTER_ACCESS_CACHE_ENTRIES', '-1'],
  ];
  for (const [name, value] of bad) {
    test(`${name}=${JSON.stringify(value)} is a ConfigError naming the variable`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
          assert.match(err.message, new RegExp(`\\b${name}\\b`));
          assert.ok(err.message.includes(JSON.stringify(value)), `the message quotes the bad value: ${err.message}`);
          assert.doesNotMatch(err.message, /\n/, 'one line');
          return true;
        },
      );
    });
  }

  test('a longer message limit raises the frame and body limits left at their defaults, and refuses ones set too small', () => {
    // 16,384 characters of 4-byte UTF-8 and the frame around them: 4 × 16,384 + 384 bytes.
    const raised = loadConfig({ CHATTER_MESSAGE_MAX_CHARS: '16384' });
    assert.deepEqual([raised.messageMaxChars, raised.maxFrameBytes, raised.bodyLimitBytes], [16_384, 65_920, 65_920]);
    const roomy = loadConfig({ CHATTER_MESSAGE_MAX_CHARS: '16384', CHATTER_MAX_FRAME_BYTES: '1048576', CHATTER_BODY_LIMIT_BYTES: '70000' });
    assert.deepEqual([roomy.maxFrameBytes, roomy.bodyLimitBytes], [1_048_576, 70_000]);
    for (const [name, value] of [['CHATTER_MAX_FRAME_BYTES', '65536'], ['CHATTER_BODY_LIMIT_BYTES', '16384']] as const) {
      assert.throws(
        () => loadConfig({ CHATTER_MESSAGE_MAX_CHARS: '16384', [name]: value }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(`${name}="${value}"`) && err.message.includes('CHATTER_MESSAGE_MAX_CHARS=16384') && err.message.includes('65920'),
      );
    }
    // The default message limit fits the default limits exactly (the body limit is 16,384).
    assert.throws(() => loadConfig({ CHATTER_BODY_LIMIT_BYTES: '16383' }), /CHATTER_BODY_LIMIT_BYTES="16383".*CHATTER_MESSAGE_MAX_CHARS=4000/);
    // Overrides: raised when they change the message limit, else kept as given (tests shrink frames on purpose).
    const over = loadConfig({}, { messageMaxChars: 16_384 });
    assert.deepEqual([over.maxFrameBytes, over.bodyLimitBytes], [65_920, 65_920]);
    assert.equal(loadConfig({}, { maxFrameBytes: 4096 }).maxFrameBytes, 4096);
  });

  test('the first bad variable is reported even when others are fine', () => {
    assert.throws(() => loadConfig({ CHATTER_PORT: '8080', CHATTER_LOG_LEVEL: 'loud' }), /CHATTER_LOG_LEVEL/);
  });
});

describe('main.ts with a bad environment', () => {
  test('exits with code 2 and one line naming the variable, without a stack trace', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'chatter-config-'));
    try {
      const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(serverRoot, 'src/main.ts')], {
        cwd: repoRoot,
        env: { ...process.env, CHATTER_PORT: 'abc', CHATTER_DATA_DIR: dataDir, CHATTER_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await new Promise<number | null>((resolveExit) => child.once('exit', (c) => resolveExit(c)));
      clearTimeout(timer);

      assert.equal(code, 2, `stdout: ${stdout}\nstderr: ${stderr}`);
      const lines = stderr.split('\n').filter((l) => l.trim().length > 0);
      assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
      assert.match(lines[0]!, /CHATTER_PORT/);
      assert.match(lines[0]!, /"abc"/);
      assert.doesNotMatch(stderr, /^\s+at /m);
      assert.doesNotMatch(stdout, /listening/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the README documents every setting', () => {
  test('each variable loadConfig reads has a row, with its default, in the configuration tables', () => {
    const source = readFileSync(join(serverRoot, 'src/config.ts'), 'utf8');
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const variables = [...new Set([...source.matchAll(/read\(env, '(CHATTER_[A-Z_]+)'/g)].map((m) => m[1]!))];
    assert.ok(variables.length >= 40, `found only ${variables.length} settings in config.ts`);
    const rows = new Map([...readme.matchAll(/^\| `(CHATTER_[A-Z_]+)` \| ([^|]*) \|/gm)].map((m) => [m[1]!, m[2]!.trim()]));
    const missing = variables.filter((v) => !rows.has(v));
    assert.deepEqual(missing, [], 'settings without a row in README.md');
    const unknown = [...rows.keys()].filter((v) => !variables.includes(v));
    assert.deepEqual(unknown, [], 'README rows for settings config.ts does not read');
    for (const [variable, shown] of rows) assert.notEqual(shown, '', `${variable} has no default in README.md`);
  });
});
