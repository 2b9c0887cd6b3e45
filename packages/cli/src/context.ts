import { ChatterApiError } from '@chatter/client';
import type { OptionValues } from './args.js';
import { DEFAULT_SERVER, normalizeServerUrl, readConfig, type CliConfig } from './config.js';
import { command } from './invocation.js';

/** A failure to report to the user as one clear sentence, with the exit code to leave with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** Everything a command needs to know about where to connect and as whom. */
export interface Session {
  server: string;
  token: string | undefined;
  /** Where the token came from, for messages like "the token from CHATTER_TOKEN was rejected". */
  tokenSource: '--token' | 'CHATTER_TOKEN' | 'config' | null;
  username: string | undefined;
  config: CliConfig;
}

/** --server, then CHATTER_SERVER, then the config file, then http://127.0.0.1:8000. */
export function resolveSession(options: OptionValues, env: NodeJS.ProcessEnv): Session {
  const config = readConfig(env);
  const rawServer = (options.server as string | undefined) ?? (env.CHATTER_SERVER || undefined) ?? config.server ?? DEFAULT_SERVER;
  let server: string;
  try {
    server = normalizeServerUrl(rawServer);
  } catch (error) {
    throw new CliError((error as Error).message, EXIT.usage);
  }
  const stored = config.sessions[server];
  if (typeof options.token === 'string') return { server, token: options.token, tokenSource: '--token', username: undefined, config };
  if (env.CHATTER_TOKEN) return { server, token: env.CHATTER_TOKEN, tokenSource: 'CHATTER_TOKEN', username: undefined, config };
  return { server, token: stored?.token, tokenSource: stored ? 'config' : null, username: stored?.username, config };
}

/** The session must have a token; otherwise say how to get one. */
export function requireToken(session: Session): string {
  if (session.token) return session.token;
  throw new CliError(
    `You are not signed in to ${session.server}. Run \`${command('login')}\` (or \`${command('register')}\` to create an account), or pass --token.`,
  );
}

/** What to tell the user when the server refuses the token. */
export function rejectedTokenMessage(session: Session): string {
  const from = session.tokenSource === 'config' ? 'Your saved session' : `The token from ${session.tokenSource ?? 'the command line'}`;
  return `${from} was not accepted by ${session.server} (expired or signed out). Run \`${command('login')}\`.`;
}

/** Turn an SDK error into one sentence for the terminal. */
export function describeApiError(error: unknown, server: string): string {
  if (error instanceof ChatterApiError) {
    if (error.code === 'network_error') return `Cannot reach ${server}: is the server running and the URL right?`;
    if (error.code === 'invalid_response') return `${server} did not answer like a Chatter server (is the URL right?).`;
    const fields = Object.entries(error.fields);
    if (fields.length) return fields.map(([field, sentence]) => `${field}: ${sentence}`).join(' ');
    if (error.code === 'rate_limited' && error.retryAfter !== undefined) return `${error.message} Try again in ${Math.ceil(error.retryAfter)} s.`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
