// Starting and stopping the servers under test, each as its own process pinned to the server core.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPinned, stopChild, waitForLine } from './proc.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHATTER_MAIN = join(ROOT, 'packages/server/dist/main.js');
const PEERS = {
  socketio: join(ROOT, 'bench/peers/socketio.mjs'),
  'ws-floor': join(ROOT, 'bench/peers/ws-floor.mjs'),
  'ws-coalesce': join(ROOT, 'bench/peers/ws-coalesce.mjs'),
};

/**
 * Variants: a target run with a different setting, measured as a target of its own.
 * `chatter-nopace` is Chatter with its large-room pacing off (CHATTER_FANOUT_PACE=0), so the report
 * can show what pacing costs in latency and buys in CPU. `chatter-syncnormal` is Chatter with SQLite's
 * `synchronous=NORMAL` (CHATTER_SQLITE_SYNC=normal): its commits are not fsynced, so the difference
 * to Chatter is what the fsync before the ack and the fan-out costs.
 */
export const VARIANTS = {
  'chatter-nopace': { kind: 'chatter', env: { CHATTER_FANOUT_PACE: '0' } },
  'chatter-syncnormal': { kind: 'chatter', env: { CHATTER_SQLITE_SYNC: 'normal' } },
};

/** The server a target runs and the protocol its clients speak: a variant's base kind. */
export function baseKind(target) {
  return VARIANTS[target]?.kind ?? target;
}

/**
 * Limits raised for the bench: its senders and its set-up (thousands of registrations and sign-ins
 * from one address) are load, not abuse. List every raised limit here: the abuse scenario puts each
 * back to the server's default.
 */
export const RAISED_LIMITS = {
  CHATTER_MESSAGES_PER_SECOND: '1000000',
  CHATTER_MESSAGE_BURST: '1000000',
  CHATTER_LOGIN_MAX_PER_USER: '1000000',
  CHATTER_LOGIN_MAX_PER_IP: '1000000',
  CHATTER_REGISTER_MAX_PER_IP: '1000000',
  CHATTER_REGISTER_MAX_TOTAL: '1000000',
  CHATTER_HASH_QUEUE_MAX: '100000',
  // The history and reconnect scenarios page history over the socket as fast as they can.
  CHATTER_FRAMES_PER_SECOND: '1000000',
  CHATTER_FRAME_BURST: '1000000',
  CHATTER_USER_FRAMES_PER_SECOND: '1000000',
  CHATTER_USER_FRAME_BURST: '1000000',
  // Every bench client connects from 127.0.0.1.
  CHATTER_MAX_SOCKETS_PER_IP: '10000000',
  CHATTER_MAX_UNAUTHENTICATED_SOCKETS: '10000000',
  // The rooms scenario creates its 1,000 rooms and 29,000 memberships through the API in its set-up,
  // and its senders edit and react.
  CHATTER_ROOM_CREATES_PER_HOUR: '1000000',
  CHATTER_MEMBERSHIP_CHANGES_PER_HOUR: '1000000',
  CHATTER_REACTIONS_PER_MINUTE: '1000000',
  // The fan-out's 16 KB message-size step (the default longest message is 4,000 characters). It
  // costs nothing per message: the frame and body limits are raised to fit, nothing else changes.
  CHATTER_MESSAGE_MAX_CHARS: '16384',
};

/** Environment for a Chatter bench server: senders are not rate limited, logs stay quiet. */
export function chatterEnv({ port, dataDir, bcryptCost = 4, extra = {} }) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CHATTER_HOST: '127.0.0.1',
    CHATTER_PORT: String(port),
    CHATTER_DATA_DIR: dataDir,
    CHATTER_LOG_LEVEL: 'warn',
    CHATTER_BCRYPT_COST: String(bcryptCost),
    ...RAISED_LIMITS,
    // The web app is not under test; a missing folder makes the server serve the API only.
    CHATTER_WEB_DIR: join(dataDir, 'no-web-app'),
    ...extra,
  };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Chatter exited with ${child.exitCode ?? child.signalCode}`);
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Chatter did not become healthy within ${timeoutMs} ms`);
}

/**
 * Start a target server. Returns {kind, host, port, pid, url, child, stderr(), stop()}.
 * @param {'chatter'|'chatter-nopace'|'chatter-syncnormal'|'socketio'|'ws-floor'|'ws-coalesce'} target (a variant starts its base kind with its settings)
 * @param {{cpu?: number, dataDir?: string, bcryptCost?: number, env?: object, nodeArgs?: string[]}} options
 */
export async function startTarget(target, { cpu, dataDir, bcryptCost, env = {}, nodeArgs = [], inspect = false } = {}) {
  const kind = baseKind(target);
  env = { ...VARIANTS[target]?.env, ...env };
  const port = await freePort();
  if (inspect) nodeArgs = [...nodeArgs, '--inspect=127.0.0.1:0'];
  const host = '127.0.0.1';
  let child;
  let stderr = '';
  if (kind === 'chatter') {
    if (!existsSync(CHATTER_MAIN)) throw new Error(`${CHATTER_MAIN} is missing: build with npx tsc -b packages/server`);
    child = spawnPinned(process.execPath, [...nodeArgs, CHATTER_MAIN], { cpu, cwd: ROOT, env: chatterEnv({ port, dataDir, bcryptCost, extra: env }) });
  } else {
    child = spawnPinned(process.execPath, [...nodeArgs, PEERS[kind], String(port)], { cpu, cwd: ROOT, env: { PATH: process.env.PATH, ...env } });
  }
  child.stderr.on('data', (d) => {
    stderr += d.toString();
    if (stderr.length > 50000) stderr = stderr.slice(-20000);
  });
  child.stdout.on('data', () => {}); // keep the pipe drained
  const url = `http://${host}:${port}`;
  try {
    if (kind === 'chatter') await waitHealthy(url, child, 30000);
    else await waitForLine(child, /^READY/, 20000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${kind} failed to start: ${err.message}\n${stderr.slice(-2000)}`);
  }
  let inspectorUrl = null;
  if (inspect) {
    const deadline = Date.now() + 5000;
    while (!(inspectorUrl = /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1] ?? null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
  return {
    kind,
    target,
    host,
    inspectorUrl,
    port,
    url,
    pid: child.pid,
    child,
    stderr: () => stderr,
    stop: (graceMs = 10000) => stopChild(child, graceMs),
  };
}
