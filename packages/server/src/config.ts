import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Every setting, its environment variable and its default. README's config table mirrors this
 * list; `loadConfig` validates each value at start and names the variable when one is wrong.
 */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** SQLite database file. */
  dbFile: string;
  sqliteSynchronous: 'full' | 'normal';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  bcryptCost: number;
  sessionTtlMs: number;
  /** Origins allowed besides the server's own (exact `scheme://host:port` strings). */
  allowedOrigins: string[];
  /** Mark the session cookie Secure. `auto`: when the request came over HTTPS. */
  cookieSecure: 'auto' | boolean;
  trustProxy: boolean;
  maxFrameBytes: number;
  sendBufferCap: number;
  messagesPerSecond: number;
  messageBurst: number;
  heartbeatMs: number;
  authTimeoutMs: number;
  historyOnConnect: number;
  /** Presence changes are announced in batches at most this often (ms). */
  presenceIntervalMs: number;
  /** A room whose write round took T ms is written again no sooner than `fanoutPace` × T after it (0: every turn). */
  fanoutPace: number;
  /** Write rounds shorter than this (ms) never delay the next one. */
  fanoutPaceMinMs: number;
  /** The most pacing ever delays a room's next write round (ms). */
  fanoutPaceMaxMs: number;
  loginMaxPerUser: number;
  loginUserWindowMs: number;
  loginMaxPerIp: number;
  loginIpWindowMs: number;
  /** Built web app to serve at `/`; skipped when the folder does not exist. */
  webDir: string;
  /** Frame budget of one connection: cost units per second, sustained (see realtime/budget.ts). */
  framesPerSecond: number;
  frameBurst: number;
  /** Frame budget of one user over all their connections to this node. */
  userFramesPerSecond: number;
  userFrameBurst: number;
  /** Refusals a connection may collect (one is forgiven per second) before it is closed with 4029. */
  rateLimitStrikes: number;
  /** A history or resume reply stops at about this many bytes and says `hasMore`. */
  replyMaxBytes: number;
  /** A history or resume request is refused while more than this many bytes wait to go to its socket. */
  replyQueueMaxBytes: number;
  maxSocketsPerUser: number;
  maxSocketsPerIp: number;
  /** Sockets open but not yet signed in (including upgrades whose token is being checked), server-wide. */
  maxUnauthenticatedSockets: number;
  /** A socket being closed whose peer reads nothing of what is left to send for this long is cut off (ms). */
  closeGraceMs: number;
}

export class ConfigError extends Error {}

const here = fileURLToPath(new URL('.', import.meta.url));
const defaultWebDir = resolve(here, '../../web/dist');

type Env = Record<string, string | undefined>;

function read<T>(env: Env, name: string, fallback: T, parse: (raw: string) => T | undefined, expected: string): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = parse(raw.trim());
  if (value === undefined) throw new ConfigError(`Invalid ${name}=${JSON.stringify(raw)}: expected ${expected}.`);
  return value;
}

const int = (min: number, max: number) => (raw: string) => {
  if (!/^-?\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
};
const num = (min: number, max: number) => (raw: string) => {
  const n = Number(raw);
  return Number.isFinite(n) && n >= min && n <= max ? n : undefined;
};
const oneOf = <T extends string>(...values: T[]) => (raw: string) => (values as string[]).includes(raw) ? (raw as T) : undefined;
const bool = (raw: string) => (['1', 'true', 'yes'].includes(raw) ? true : ['0', 'false', 'no'].includes(raw) ? false : undefined);

export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const dataDir = resolve(read(env, 'CHATTER_DATA_DIR', './data', (r) => r, 'a directory path'));
  const config: Config = {
    host: read(env, 'CHATTER_HOST', '127.0.0.1', (r) => r, 'a host name or address'),
    port: read(env, 'CHATTER_PORT', 8000, int(0, 65535), 'a port number 0-65535'),
    dataDir,
    dbFile: resolve(read(env, 'CHATTER_DB_FILE', `${dataDir}/chatter.db`, (r) => r, 'a file path')),
    sqliteSynchronous: read(env, 'CHATTER_SQLITE_SYNC', 'full', oneOf('full', 'normal'), '"full" or "normal"'),
    logLevel: read(env, 'CHATTER_LOG_LEVEL', 'info', oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), 'a pino level (info, warn, ...)'),
    bcryptCost: read(env, 'CHATTER_BCRYPT_COST', 12, int(4, 16), 'a whole number 4-16'),
    sessionTtlMs: read(env, 'CHATTER_SESSION_TTL_HOURS', 720, num(1 / 3600, 24 * 365), 'hours, 0.0003-8760') * 3_600_000,
    allowedOrigins: read(env, 'CHATTER_ALLOWED_ORIGINS', [] as string[], (r) => {
      const list = r.split(',').map((s) => s.trim()).filter(Boolean);
      return list.every((o) => /^https?:\/\/[^/\s]+$/.test(o)) ? list : undefined;
    }, 'a comma-separated list of origins like https://chat.example.com'),
    cookieSecure: read(env, 'CHATTER_COOKIE_SECURE', 'auto' as 'auto' | boolean, (r) => (r === 'auto' ? 'auto' : bool(r)), '"auto", "true" or "false"'),
    trustProxy: read(env, 'CHATTER_TRUST_PROXY', false, bool, '"true" or "false"'),
    maxFrameBytes: read(env, 'CHATTER_MAX_FRAME_BYTES', 65_536, int(1024, 16 * 1024 * 1024), 'bytes, 1024-16777216'),
    sendBufferCap: read(env, 'CHATTER_SEND_BUFFER_CAP', 1_048_576, int(16_384, 1024 * 1024 * 1024), 'bytes, 16384-1073741824'),
    messagesPerSecond: read(env, 'CHATTER_MESSAGES_PER_SECOND', 10, num(0.01, 1_000_000), 'a number > 0'),
    messageBurst: read(env, 'CHATTER_MESSAGE_BURST', 20, int(1, 1_000_000), 'a whole number >= 1'),
    heartbeatMs: read(env, 'CHATTER_HEARTBEAT_MS', 30_000, int(100, 3_600_000), 'milliseconds, 100-3600000'),
    authTimeoutMs: read(env, 'CHATTER_AUTH_TIMEOUT_MS', 10_000, int(100, 600_000), 'milliseconds, 100-600000'),
    historyOnConnect: read(env, 'CHATTER_HISTORY_ON_CONNECT', 50, int(0, 100), 'a whole number 0-100'),
    presenceIntervalMs: read(env, 'CHATTER_PRESENCE_INTERVAL_MS', 500, int(0, 60_000), 'milliseconds, 0-60000'),
    fanoutPace: read(env, 'CHATTER_FANOUT_PACE', 1, num(0, 1_000_000), 'a number, 0-1000000'),
    fanoutPaceMinMs: read(env, 'CHATTER_FANOUT_PACE_MIN_MS', 0.5, num(0, 60_000), 'milliseconds, 0-60000'),
    fanoutPaceMaxMs: read(env, 'CHATTER_FANOUT_PACE_MAX_MS', 50, num(0, 60_000), 'milliseconds, 0-60000'),
    loginMaxPerUser: read(env, 'CHATTER_LOGIN_MAX_PER_USER', 10, int(1, 1_000_000), 'a whole number >= 1'),
    loginUserWindowMs: read(env, 'CHATTER_LOGIN_USER_WINDOW_S', 900, int(1, 86_400), 'seconds, 1-86400') * 1000,
    loginMaxPerIp: read(env, 'CHATTER_LOGIN_MAX_PER_IP', 50, int(1, 1_000_000), 'a whole number >= 1'),
    loginIpWindowMs: read(env, 'CHATTER_LOGIN_IP_WINDOW_S', 60, int(1, 86_400), 'seconds, 1-86400') * 1000,
    webDir: resolve(read(env, 'CHATTER_WEB_DIR', defaultWebDir, (r) => r, 'a directory path')),
    framesPerSecond: read(env, 'CHATTER_FRAMES_PER_SECOND', 20, num(0.01, 1_000_000), 'a number > 0'),
    frameBurst: read(env, 'CHATTER_FRAME_BURST', 60, int(10, 1_000_000), 'a whole number >= 10'),
    userFramesPerSecond: read(env, 'CHATTER_USER_FRAMES_PER_SECOND', 50, num(0.01, 1_000_000), 'a number > 0'),
    userFrameBurst: read(env, 'CHATTER_USER_FRAME_BURST', 150, int(10, 1_000_000), 'a whole number >= 10'),
    rateLimitStrikes: read(env, 'CHATTER_RATE_LIMIT_STRIKES', 20, int(1, 1_000_000), 'a whole number >= 1'),
    replyMaxBytes: read(env, 'CHATTER_REPLY_MAX_BYTES', 262_144, int(16_384, 64 * 1024 * 1024), 'bytes, 16384-67108864'),
    replyQueueMaxBytes: read(env, 'CHATTER_REPLY_QUEUE_MAX_BYTES', 262_144, int(0, 1024 * 1024 * 1024), 'bytes, 0-1073741824'),
    maxSocketsPerUser: read(env, 'CHATTER_MAX_SOCKETS_PER_USER', 20, int(1, 1_000_000), 'a whole number >= 1'),
    maxSocketsPerIp: read(env, 'CHATTER_MAX_SOCKETS_PER_IP', 200, int(1, 10_000_000), 'a whole number >= 1'),
    maxUnauthenticatedSockets: read(env, 'CHATTER_MAX_UNAUTHENTICATED_SOCKETS', 1000, int(1, 10_000_000), 'a whole number >= 1'),
    closeGraceMs: read(env, 'CHATTER_CLOSE_GRACE_MS', 5000, int(100, 600_000), 'milliseconds, 100-600000'),
  };
  return { ...config, ...overrides };
}
