/**
 * Real servers for tests: an in-process one on an ephemeral port, and a child process that can be
 * killed and restarted on the same database. Nothing here is a double; tests talk HTTP and
 * WebSocket to the same code that ships.
 */
import type { AuthResponse } from '@chatter/protocol';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from './app.js';
// Re-exported so that the declarations of this module pull in app's Fastify type augmentation
// (app.store, app.gateway...) for tests in other packages.
export type { AppDeps } from './app.js';
/** The policy the server sends with the app; the browser suites check the app runs under it. */
export { CONTENT_SECURITY_POLICY } from './http/headers.js';
import { loadConfig, type Config } from './config.js';

export interface TestUser {
  token: string;
  user: AuthResponse['user'];
  username: string;
  password: string;
}

async function registerAt(url: string, username: string, password: string): Promise<TestUser> {
  const res = await fetch(`${url}/api/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, session: 'token' }),
  });
  const body = (await res.json()) as AuthResponse & { error?: unknown };
  if (res.status !== 201 || !body.token) throw new Error(`register ${username} failed: ${res.status} ${JSON.stringify(body)}`);
  return { token: body.token, user: body.user, username, password };
}

export interface TestServer {
  app: FastifyInstance;
  config: Config;
  url: string;
  wsUrl: string;
  dataDir: string;
  register(username: string, password?: string): Promise<TestUser>;
  close(): Promise<void>;
}

/**
 * Tests register many users from 127.0.0.1, some hundreds at once; the registration throttles and
 * the bounded hashing queue would refuse them. Suites that test those limits set their own.
 */
const REGISTER_UNLIMITED = { registerMaxPerIp: 1_000_000, registerMaxTotal: 1_000_000, hashQueueMax: 100_000 };

/** A real server in this process: port 0, a fresh SQLite file in a temp dir, bcrypt cost 4, silent logs, no registration limits. */
export async function startTestServer(overrides: Partial<Config> = {}, deps: AppDeps = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'chatter-test-'));
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, dbFile: join(dataDir, 'chatter.db'), bcryptCost: 4, logLevel: 'silent', ...REGISTER_UNLIMITED, ...overrides });
  const app = await buildApp(config, deps);
  await app.listen({ host: config.host, port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    config,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    dataDir,
    register: (username, password = 'correct horse battery') => registerAt(url, username, password),
    async close() {
      await app.close();
      if (!overrides.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A message to store directly, in the shape protocol 1's `appendMessages` took. */
export interface SeedMessage {
  roomId: string;
  authorId: number;
  clientId: string;
  text: string;
  createdAt: number;
}

/**
 * Store messages straight through the storage seam, in one transaction per 500 (fast seeding without
 * sockets): each is a `message_created` event of its room. Nothing is published, so only readers of
 * the log (history, resume) see them. Authors must be members of the room (everyone is in general).
 */
export async function storeMessages(server: Pick<TestServer, 'app'>, rows: SeedMessage[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    const results = await server.app.store.applyChanges(
      rows.slice(i, i + 500).map((r) => ({ kind: 'message_created' as const, roomId: r.roomId, actorId: r.authorId, clientId: r.clientId, at: r.createdAt, text: r.text, mentions: [] })),
    );
    const failed = results.find((r) => !r.ok);
    if (failed) throw new Error(`storing messages failed: ${JSON.stringify(failed)}`);
  }
}

export interface SpawnedServer {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  readonly dataDir: string;
  readonly process: ChildProcess;
  /** Everything the process wrote to stdout and stderr, for assertions on logs. */
  output(): string;
  register(username: string, password?: string): Promise<TestUser>;
  /** Send a signal (default SIGKILL) and wait for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM and wait (graceful shutdown). */
  stop(): Promise<number | null>;
  /** Start again on the same port and database. */
  restart(): Promise<void>;
  /** Stop if running and delete the data dir (unless it was given). */
  dispose(): Promise<void>;
}

/** A port that was free a moment ago (the kernel picks it; a race with another binder is unlikely on loopback). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

const serverRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(serverRoot, '../..');

/**
 * The real server as a child process, run from source through tsx so no build is needed.
 * `env` adds CHATTER_* variables (bcrypt cost 4, info-level logs and no registration limits unless overridden).
 */
export async function spawnServer(options: { dataDir?: string; port?: number; env?: Record<string, string> } = {}): Promise<SpawnedServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'chatter-proc-'));
  let port = options.port ?? 0;
  let child!: ChildProcess;
  let log = '';

  const start = async () => {
    if (port === 0) port = await freePort();
    log = '';
    child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(serverRoot, 'src/main.ts')], {
      cwd: repoRoot,
      env: {
        ...process.env,
        CHATTER_HOST: '127.0.0.1',
        CHATTER_PORT: String(port),
        CHATTER_DATA_DIR: dataDir,
        CHATTER_BCRYPT_COST: '4',
        CHATTER_LOG_LEVEL: 'info',
        CHATTER_REGISTER_MAX_PER_IP: String(REGISTER_UNLIMITED.registerMaxPerIp),
        CHATTER_REGISTER_MAX_TOTAL: String(REGISTER_UNLIMITED.registerMaxTotal),
        CHATTER_HASH_QUEUE_MAX: String(REGISTER_UNLIMITED.hashQueueMax),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    // Ready means answering HTTP, whatever the log level.
    // Generous: under a loaded CI machine, starting tsx takes a while.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/health`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`server was not ready within 60 s:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const waitExit = () =>
    new Promise<number | null>((res) => {
      if (child.exitCode !== null || child.signalCode !== null) return res(child.exitCode);
      child.once('exit', (code) => res(code));
    });

  try {
    await start();
  } catch (err) {
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const server: SpawnedServer = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get wsUrl() {
      return `ws://127.0.0.1:${port}/ws`;
    },
    get port() {
      return port;
    },
    get process() {
      return child;
    },
    dataDir,
    output: () => log,
    register: (username, password = 'correct horse battery') => registerAt(`http://127.0.0.1:${port}`, username, password),
    async kill(signal = 'SIGKILL') {
      const exited = waitExit();
      child.kill(signal);
      return exited;
    },
    stop() {
      return server.kill('SIGTERM');
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) await server.stop();
      await start();
    },
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) await server.kill('SIGKILL');
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
