import proxyAddr from '@fastify/proxy-addr';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIMITS } from '@chatter/protocol';

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
  /**
   * Which peers may tell us the client's address (`X-Forwarded-For`) and scheme (`X-Forwarded-Proto`):
   * `false` none; a number N: the nearest N hops (the TCP peer and the N-1 proxies before it); a list:
   * peers whose address is in it (addresses, CIDRs, or proxy-addr's `loopback`/`linklocal`/`uniquelocal`).
   */
  trustProxy: TrustProxy;
  maxFrameBytes: number;
  sendBufferCap: number;
  messagesPerSecond: number;
  messageBurst: number;
  heartbeatMs: number;
  authTimeoutMs: number;
  historyOnConnect: number;
  /** Presence changes are announced in batches at most this often (ms). */
  presenceIntervalMs: number;
  /** A room with more than LIMITS.presenceListMax online hears its count at most once per this many ms per presenceListMax online. */
  presenceCountIntervalMs: number;
  /** ...and at least this often while it changes (ms). */
  presenceCountMaxIntervalMs: number;
  /**
   * A room whose write round took T ms, and whose messages arrive more often than one per
   * `fanoutPace` × T, is written again no sooner than `fanoutPace` × T after it (0: every turn).
   */
  fanoutPace: number;
  /** Write rounds shorter than this (ms) never delay the next one. */
  fanoutPaceMinMs: number;
  /** The most pacing ever delays a room's next write round (ms). */
  fanoutPaceMaxMs: number;
  /** Sockets one room's round writes per event-loop turn; a larger room's round goes on over several turns. */
  fanoutChunk: number;
  loginMaxPerUser: number;
  loginUserWindowMs: number;
  loginMaxPerIp: number;
  loginIpWindowMs: number;
  /** Built web app to serve at `/`; skipped when the folder does not exist. */
  webDir: string;
  /** Pictures with more pixels than this (read from the header) are refused before decoding. */
  avatarMaxPixels: number;
  /** Pictures decoded at once in the whole process; each user has at most one in progress. */
  imageJobs: number;
  /** Avatar changes (uploads that reach decoding, removals) per user per hour. */
  avatarChangesPerHour: number;
  /** Largest JSON request body (bytes); routes that take uploads set their own. */
  bodyLimitBytes: number;
  /** A session ends this long after sign-in however often it is used (the sliding TTL ends it sooner when idle). */
  sessionMaxAgeMs: number;
  /** The first wait after `loginMaxPerUser` failures of one account from one address; it doubles with each further failure, up to `loginUserWindowMs`. */
  loginBackoffMs: number;
  /** Failures of one account from all addresses within `loginAccountWindowMs` after which addresses that failed on it get no free attempts. */
  loginMaxPerAccount: number;
  loginAccountWindowMs: number;
  /** Lifetime of the device cookie that lets a browser that signed in before skip the sign-in throttles. */
  deviceCookieTtlMs: number;
  /** Registrations per client address per `registerIpWindowMs`. */
  registerMaxPerIp: number;
  registerIpWindowMs: number;
  /** Registrations from everyone per `registerTotalWindowMs`. */
  registerMaxTotal: number;
  registerTotalWindowMs: number;
  /** Password hashing jobs that may wait, for each of the two budgets (sign-ins, registrations); past it, 503 with Retry-After. */
  hashQueueMax: number;
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
  /** Connections the kernel queues for accept() (the listen backlog; the kernel caps it at net.core.somaxconn). */
  listenBacklog: number;
  /** Rooms one user may create per hour. */
  roomCreatesPerHour: number;
  /** New direct messages one user may open per hour (opening an existing one is free). */
  dmOpensPerHour: number;
  /** Joins, leaves, invitations and removals one user may make per hour. */
  membershipChangesPerHour: number;
  /** User searches (`GET /api/users?q=`) one user may make per minute. */
  userSearchesPerMinute: number;
  /** Reactions added or removed by one user per minute. */
  reactionsPerMinute: number;
  /** At most one typing notice per user and room is forwarded in this many ms. */
  typingForwardMs: number;
  /**
   * Longest message text, in Unicode code points after normalising (advertised in `hello.limits`).
   * The frame and body limits must hold such a message: see `messageEnvelopeBytes`.
   */
  messageMaxChars: number;
  /** Serialized room events kept for replays, all rooms together (bytes; 0: none). See realtime/event-frames.ts. */
  replayCacheBytes: number;
  /** A user whose connection was lost (no close frame) is announced gone only if not back within this many ms (0: at once). */
  presenceLeaveGraceMs: number;
  /** (user, room) memberships remembered for sends, edits, reactions and typing (0: none). See conversations/access.ts. */
  accessCacheEntries: number;
}

export type TrustProxy = false | number | string[];

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

/**
 * `true` once meant "believe any X-Forwarded-For", which let any client pick its address. It now
 * means 1 hop: the usual single reverse proxy in front, whose own entry (the rightmost) is believed.
 */
const trustProxy = (raw: string): TrustProxy | undefined => {
  const flag = bool(raw);
  if (flag !== undefined) return flag ? 1 : false;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    return hops <= 32 ? hops || false : undefined;
  }
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  try {
    proxyAddr.compile(list); // throws on anything that is not an address, a CIDR or a known keyword
  } catch {
    return undefined;
  }
  return list.length > 0 ? list : undefined;
};

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
    trustProxy: read(env, 'CHATTER_TRUST_PROXY', false as TrustProxy, trustProxy,
      '"false", a number of proxy hops (1 for one reverse proxy; "true" means 1), or a comma-separated list of proxy addresses or CIDRs (10.0.0.1,10.0.0.0/8)'),
    maxFrameBytes: read(env, 'CHATTER_MAX_FRAME_BYTES', 65_536, int(1024, 16 * 1024 * 1024), 'bytes, 1024-16777216'),
    sendBufferCap: read(env, 'CHATTER_SEND_BUFFER_CAP', 1_048_576, int(16_384, 1024 * 1024 * 1024), 'bytes, 16384-1073741824'),
    messagesPerSecond: read(env, 'CHATTER_MESSAGES_PER_SECOND', 10, num(0.01, 1_000_000), 'a number > 0'),
    messageBurst: read(env, 'CHATTER_MESSAGE_BURST', 20, int(1, 1_000_000), 'a whole number >= 1'),
    heartbeatMs: read(env, 'CHATTER_HEARTBEAT_MS', 30_000, int(100, 3_600_000), 'milliseconds, 100-3600000'),
    authTimeoutMs: read(env, 'CHATTER_AUTH_TIMEOUT_MS', 10_000, int(100, 600_000), 'milliseconds, 100-600000'),
    historyOnConnect: read(env, 'CHATTER_HISTORY_ON_CONNECT', 50, int(0, 100), 'a whole number 0-100'),
    presenceIntervalMs: read(env, 'CHATTER_PRESENCE_INTERVAL_MS', 500, int(0, 60_000), 'milliseconds, 0-60000'),
    presenceCountIntervalMs: read(env, 'CHATTER_PRESENCE_COUNT_INTERVAL_MS', 500, int(0, 600_000), 'milliseconds, 0-600000'),
    presenceCountMaxIntervalMs: read(env, 'CHATTER_PRESENCE_COUNT_MAX_INTERVAL_MS', 10_000, int(0, 3_600_000), 'milliseconds, 0-3600000'),
    fanoutPace: read(env, 'CHATTER_FANOUT_PACE', 1, num(0, 1_000_000), 'a number, 0-1000000'),
    fanoutPaceMinMs: read(env, 'CHATTER_FANOUT_PACE_MIN_MS', 0.5, num(0, 60_000), 'milliseconds, 0-60000'),
    fanoutPaceMaxMs: read(env, 'CHATTER_FANOUT_PACE_MAX_MS', 50, num(0, 60_000), 'milliseconds, 0-60000'),
    fanoutChunk: read(env, 'CHATTER_FANOUT_CHUNK', 1000, int(1, 10_000_000), 'a whole number 1-10000000'),
    loginMaxPerUser: read(env, 'CHATTER_LOGIN_MAX_PER_USER', 10, int(1, 1_000_000), 'a whole number >= 1'),
    loginUserWindowMs: read(env, 'CHATTER_LOGIN_USER_WINDOW_S', 900, int(1, 86_400), 'seconds, 1-86400') * 1000,
    loginMaxPerIp: read(env, 'CHATTER_LOGIN_MAX_PER_IP', 50, int(1, 1_000_000), 'a whole number >= 1'),
    loginIpWindowMs: read(env, 'CHATTER_LOGIN_IP_WINDOW_S', 60, int(1, 86_400), 'seconds, 1-86400') * 1000,
    webDir: resolve(read(env, 'CHATTER_WEB_DIR', defaultWebDir, (r) => r, 'a directory path')),
    avatarMaxPixels: read(env, 'CHATTER_AVATAR_MAX_PIXELS', 16_000_000, int(65_536, 268_402_689), 'a whole number of pixels, 65536-268402689'),
    imageJobs: read(env, 'CHATTER_IMAGE_JOBS', 2, int(1, 64), 'a whole number 1-64'),
    avatarChangesPerHour: read(env, 'CHATTER_AVATAR_CHANGES_PER_HOUR', 10, int(1, 1_000_000), 'a whole number >= 1'),
    bodyLimitBytes: read(env, 'CHATTER_BODY_LIMIT_BYTES', 16_384, int(1024, 16 * 1024 * 1024), 'bytes, 1024-16777216'),
    sessionMaxAgeMs: read(env, 'CHATTER_SESSION_MAX_AGE_DAYS', 90, num(1 / 86_400, 3650), 'days, 0.00002-3650') * 86_400_000,
    loginBackoffMs: read(env, 'CHATTER_LOGIN_BACKOFF_S', 30, num(0.001, 86_400), 'seconds, 0.001-86400') * 1000,
    loginMaxPerAccount: read(env, 'CHATTER_LOGIN_MAX_PER_ACCOUNT', 100, int(1, 1_000_000), 'a whole number >= 1'),
    loginAccountWindowMs: read(env, 'CHATTER_LOGIN_ACCOUNT_WINDOW_S', 900, int(1, 86_400), 'seconds, 1-86400') * 1000,
    deviceCookieTtlMs: read(env, 'CHATTER_DEVICE_COOKIE_DAYS', 365, num(1 / 86_400, 3650), 'days, 0.00002-3650') * 86_400_000,
    registerMaxPerIp: read(env, 'CHATTER_REGISTER_MAX_PER_IP', 10, int(1, 1_000_000), 'a whole number >= 1'),
    registerIpWindowMs: read(env, 'CHATTER_REGISTER_IP_WINDOW_S', 3600, int(1, 86_400), 'seconds, 1-86400') * 1000,
    registerMaxTotal: read(env, 'CHATTER_REGISTER_MAX_TOTAL', 60, int(1, 1_000_000), 'a whole number >= 1'),
    registerTotalWindowMs: read(env, 'CHATTER_REGISTER_TOTAL_WINDOW_S', 60, int(1, 86_400), 'seconds, 1-86400') * 1000,
    hashQueueMax: read(env, 'CHATTER_HASH_QUEUE_MAX', 64, int(1, 100_000), 'a whole number 1-100000'),
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
    listenBacklog: read(env, 'CHATTER_LISTEN_BACKLOG', 511, int(1, 1_000_000), 'a whole number 1-1000000'),
    roomCreatesPerHour: read(env, 'CHATTER_ROOM_CREATES_PER_HOUR', 10, int(1, 1_000_000), 'a whole number >= 1'),
    dmOpensPerHour: read(env, 'CHATTER_DM_OPENS_PER_HOUR', 30, int(1, 1_000_000), 'a whole number >= 1'),
    membershipChangesPerHour: read(env, 'CHATTER_MEMBERSHIP_CHANGES_PER_HOUR', 60, int(1, 1_000_000), 'a whole number >= 1'),
    userSearchesPerMinute: read(env, 'CHATTER_USER_SEARCHES_PER_MINUTE', 30, int(1, 1_000_000), 'a whole number >= 1'),
    reactionsPerMinute: read(env, 'CHATTER_REACTIONS_PER_MINUTE', 60, int(1, 1_000_000), 'a whole number >= 1'),
    typingForwardMs: read(env, 'CHATTER_TYPING_FORWARD_MS', 2500, int(0, 60_000), 'milliseconds, 0-60000'),
    messageMaxChars: read(env, 'CHATTER_MESSAGE_MAX_CHARS', LIMITS.messageMaxChars, int(1, MESSAGE_MAX_CHARS_CAP), `a whole number 1-${MESSAGE_MAX_CHARS_CAP}`),
    replayCacheBytes: read(env, 'CHATTER_REPLAY_CACHE_BYTES', 16 * 1024 * 1024, int(0, 1024 * 1024 * 1024), 'bytes, 0-1073741824'),
    presenceLeaveGraceMs: read(env, 'CHATTER_PRESENCE_LEAVE_GRACE_MS', 30_000, int(0, 3_600_000), 'milliseconds, 0-3600000'),
    accessCacheEntries: read(env, 'CHATTER_ACCESS_CACHE_ENTRIES', 100_000, int(0, 100_000_000), 'a whole number 0-100000000'),
  };
  const set = { frame: Boolean(env.CHATTER_MAX_FRAME_BYTES?.trim()), body: Boolean(env.CHATTER_BODY_LIMIT_BYTES?.trim()) };
  const merged = { ...fitMessageLimits(config, set), ...overrides };
  // Overrides are the caller's own (tests build servers with deliberately small frames): checked
  // against the message limit only when they change it.
  if (overrides.messageMaxChars === undefined) return merged;
  return fitMessageLimits(merged, { frame: set.frame || overrides.maxFrameBytes !== undefined, body: set.body || overrides.bodyLimitBytes !== undefined });
}

/** The largest `CHATTER_MESSAGE_MAX_CHARS`: 64 Ki characters, a quarter of a megabyte of UTF-8 per message at worst. */
export const MESSAGE_MAX_CHARS_CAP = 65_536;

/**
 * Bytes a send or edit (WebSocket frame or REST body) carrying a message of `maxChars` characters
 * may take: 4 bytes per code point (UTF-8's most, which is also what JSON.stringify writes for any
 * character the protocol allows: `"` and `\` escape to 2 bytes) plus 384 for the rest of the
 * frame (type, room id, client id, ref). At the default of 4,000 characters that is 16,384, the
 * default body limit.
 */
export function messageEnvelopeBytes(maxChars: number): number {
  return 4 * maxChars + 384;
}

/**
 * A message the server accepts must fit in the frame and the body it comes in, or a legal message
 * would be cut off with 1009 or 413. A limit left at its default is raised to fit; one set below
 * what the message limit needs is a configuration error naming both settings.
 */
function fitMessageLimits(config: Config, explicit: { frame: boolean; body: boolean }): Config {
  const need = messageEnvelopeBytes(config.messageMaxChars);
  const fit = (name: string, value: number, isExplicit: boolean): number => {
    if (value >= need) return value;
    if (isExplicit) {
      throw new ConfigError(`Invalid ${name}=${JSON.stringify(String(value))}: CHATTER_MESSAGE_MAX_CHARS=${config.messageMaxChars} needs at least ${need} bytes (4 per character + 384).`);
    }
    return need;
  };
  return {
    ...config,
    maxFrameBytes: fit('CHATTER_MAX_FRAME_BYTES', config.maxFrameBytes, explicit.frame),
    bodyLimitBytes: fit('CHATTER_BODY_LIMIT_BYTES', config.bodyLimitBytes, explicit.body),
  };
}
