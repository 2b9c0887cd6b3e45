import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { command } from './invocation.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8000';

/** One signed-in session. Tokens are kept per server so a token is never sent to another server. */
export interface StoredSession {
  username: string;
  token: string;
  expiresAt?: string;
  savedAt: string;
}

export interface CliConfig {
  /** The server `chatter` talks to when neither --server nor CHATTER_SERVER says otherwise. */
  server?: string;
  /** Keyed by normalized server URL (see `normalizeServerUrl`). */
  sessions: Record<string, StoredSession>;
}

/**
 * Where config.json lives: $CHATTER_CONFIG_DIR, else $XDG_CONFIG_HOME/chatter, else
 * ~/.config/chatter.
 */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHATTER_CONFIG_DIR) return env.CHATTER_CONFIG_DIR;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'chatter');
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'config.json');
}

export class ConfigFileError extends Error {}

export function readConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const path = configPath(env);
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { sessions: {} };
    throw new ConfigFileError(`Cannot read ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    throw new ConfigFileError(`${path} is not valid JSON. Fix it or delete it and run \`${command('login')}\` again.`);
  }
  if (!data || typeof data !== 'object') throw new ConfigFileError(`${path} should hold a JSON object.`);
  const record = data as Partial<CliConfig>;
  const sessions: Record<string, StoredSession> = {};
  if (record.sessions && typeof record.sessions === 'object') {
    for (const [server, s] of Object.entries(record.sessions)) {
      if (s && typeof s.token === 'string' && typeof s.username === 'string') sessions[server] = s;
    }
  }
  return { ...(typeof record.server === 'string' && { server: record.server }), sessions };
}

/**
 * Save the config holding session tokens: the directory is made private (0700) and the file is
 * written to a temporary file created with mode 0600 and renamed over the old one, so the token is
 * never readable by others, not even for a moment, and a crash never leaves half a file.
 */
export function writeConfig(config: CliConfig, env: NodeJS.ProcessEnv = process.env): string {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode only applies to a directory it creates; tighten an existing one too.
  if ((statSync(dir).mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  const path = configPath(env);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    const ordered: CliConfig = { ...(config.server && { server: config.server }), sessions: config.sessions };
    writeFileSync(temp, `${JSON.stringify(ordered, null, 2)}\n`, { mode: 0o600, flag: 'w' });
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  return path;
}

/**
 * Accept what people type for a server: `localhost:8000`, `http://host:8000/`, `https://chat.example.com`.
 * Returns `scheme://host[:port]` plus any base path, without a trailing slash.
 */
export function normalizeServerUrl(input: string): string {
  let text = input.trim();
  if (!text) throw new Error('The server URL is empty.');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `http://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${input}" is not a valid server URL (try http://127.0.0.1:8000).`);
  }
  if (url.protocol === 'ws:') url.protocol = 'http:';
  if (url.protocol === 'wss:') url.protocol = 'https:';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`"${input}" is not an http:// or https:// URL.`);
  }
  if (url.username || url.password) throw new Error('Leave credentials out of the server URL; chatter asks for them.');
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/** The WebSocket endpoint of a server (http -> ws, https -> wss, + /ws). */
export function webSocketUrl(server: string): string {
  return `${server.replace(/^http/, 'ws')}/ws`;
}
