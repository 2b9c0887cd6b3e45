import { ChatterApi, ChatterApiError } from '@chatter/client';
import { LIMITS } from '@chatter/protocol';
import type { OptionValues } from '../args.js';
import { version } from '../cli.js';
import { configPath, DEFAULT_SERVER, normalizeServerUrl, readConfig, writeConfig } from '../config.js';
import { CliError, describeApiError, EXIT, rejectedTokenMessage, requireToken, resolveSession } from '../context.js';
import { command } from '../invocation.js';
import { Prompter, PromptAborted } from '../prompt.js';
import { sanitize } from '../term/ansi.js';

export interface IO {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const usernamePattern = new RegExp(LIMITS.usernamePattern);
const MAX_ATTEMPTS = 3;

function checkUsername(name: string): string | null {
  if (name.length < LIMITS.usernameMin || name.length > LIMITS.usernameMax || !usernamePattern.test(name)) {
    return `Use ${LIMITS.usernameMin}-${LIMITS.usernameMax} characters: letters, digits, _ . or -.`;
  }
  return null;
}

function checkPassword(password: string): string | null {
  if (password.length < LIMITS.passwordMin || password.length > LIMITS.passwordMax) {
    return `Use ${LIMITS.passwordMin}-${LIMITS.passwordMax} characters.`;
  }
  return null;
}

/** Ask until `check` passes (on a terminal) or fail at once (from a pipe, where asking again cannot help). */
async function askValid(prompter: Prompter, io: IO, question: string, check: (value: string) => string | null, opts: { hidden?: boolean; default?: string } = {}): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const value = await prompter.ask(question, opts);
    const problem = check(value);
    if (!problem) return value;
    if (!prompter.interactive || attempt >= MAX_ATTEMPTS) throw new CliError(`${question}: ${problem}`);
    io.stderr.write(`  ${problem}\n`);
  }
}

/** The server: from --server / CHATTER_SERVER without asking, else asked with the saved one as default. */
async function chooseServer(prompter: Prompter, io: IO, options: OptionValues): Promise<{ server: string; api: ChatterApi }> {
  const given = (options.server as string | undefined) ?? (io.env.CHATTER_SERVER || undefined);
  let server: string;
  if (given) {
    try {
      server = normalizeServerUrl(given);
    } catch (error) {
      throw new CliError((error as Error).message, EXIT.usage);
    }
  } else {
    const fallback = readConfig(io.env).server ?? DEFAULT_SERVER;
    let normalized = '';
    await askValid(prompter, io, 'Server URL', (value) => {
      try {
        normalized = normalizeServerUrl(value);
        return null;
      } catch (error) {
        return (error as Error).message;
      }
    }, { default: fallback });
    server = normalized;
  }
  // Named so that the session list shows this sign-in as "chatter CLI".
  const api = new ChatterApi({ baseUrl: server, userAgent: `chatter-cli/${version()}` });
  // Fail before asking for a password the server will never see.
  try {
    await api.health();
  } catch (error) {
    throw new CliError(describeApiError(error, server));
  }
  return { server, api };
}

function saveSession(io: IO, server: string, username: string, token: string, expiresAt: string | undefined): string {
  const config = readConfig(io.env);
  config.server = server;
  config.sessions[server] = { username, token, ...(expiresAt && { expiresAt }), savedAt: new Date().toISOString() };
  return writeConfig(config, io.env);
}

/** A session about to be replaced is revoked, so logging in twice does not leave a live token behind. */
async function revokeQuietly(server: string, token: string | undefined, keep: string): Promise<void> {
  if (!token || token === keep) return;
  try {
    await new ChatterApi({ baseUrl: server, token }).logout();
  } catch {
    // Best effort: the old token expires on its own.
  }
}

async function withPrompter<T>(io: IO, fn: (prompter: Prompter) => Promise<T>): Promise<T> {
  const prompter = new Prompter(io.stdin, io.stderr);
  try {
    return await fn(prompter);
  } catch (error) {
    if (error instanceof PromptAborted) {
      throw new CliError(prompter.interactive ? 'Cancelled.' : 'Input ended before every answer was given (server URL, username, password: one per line).', prompter.interactive ? EXIT.interrupted : EXIT.failure);
    }
    throw error;
  } finally {
    prompter.close();
  }
}

export async function login(options: OptionValues, io: IO): Promise<number> {
  return withPrompter(io, async (prompter) => {
    const { server, api } = await chooseServer(prompter, io, options);
    const previous = readConfig(io.env).sessions[server]?.token;
    let username = (options.username as string | undefined)?.trim() || (await askValid(prompter, io, 'Username', (v) => (v ? null : 'Enter your username or email.')));
    for (let attempt = 1; ; attempt++) {
      const password = await askValid(prompter, io, 'Password', (v) => (v ? null : 'Enter your password.'), { hidden: true });
      try {
        const body = username.includes('@') ? { email: username, password, session: 'token' as const } : { username, password, session: 'token' as const };
        const res = await api.login(body);
        if (!res.token) throw new CliError(`${server} did not return a session token.`);
        const path = saveSession(io, server, res.user.username, res.token, res.expiresAt);
        await revokeQuietly(server, previous, res.token);
        io.stdout.write(`Signed in to ${server} as ${sanitize(res.user.username, false)}.\nSession saved in ${path}.\nRun \`${command()}\` to start chatting.\n`);
        return EXIT.ok;
      } catch (error) {
        if (error instanceof ChatterApiError && error.code === 'invalid_credentials' && prompter.interactive && attempt < MAX_ATTEMPTS) {
          io.stderr.write(`  ${sanitize(error.message, false)}\n`);
          if (!options.username) username = await askValid(prompter, io, 'Username', (v) => (v ? null : 'Enter your username or email.'), { default: username });
          continue;
        }
        if (error instanceof CliError) throw error;
        throw new CliError(describeApiError(error, server));
      }
    }
  });
}

export async function register(options: OptionValues, io: IO): Promise<number> {
  return withPrompter(io, async (prompter) => {
    const { server, api } = await chooseServer(prompter, io, options);
    const email = typeof options.email === 'string' && options.email.trim() ? options.email.trim() : undefined;
    let username = typeof options.username === 'string' ? options.username.trim() : '';
    if (username) {
      const problem = checkUsername(username);
      if (problem) throw new CliError(`Username: ${problem}`, EXIT.usage);
    } else username = await askValid(prompter, io, 'Username', checkUsername);
    const password = await askValid(prompter, io, 'Password', checkPassword, { hidden: true });
    if (prompter.interactive) {
      const again = await prompter.ask('Repeat password', { hidden: true });
      if (again !== password) throw new CliError('The passwords do not match. Nothing was created.');
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await api.register({ username, password, ...(email && { email }), session: 'token' });
        if (!res.token) throw new CliError(`${server} created the account but returned no session token: run \`${command('login')}\`.`);
        const path = saveSession(io, server, res.user.username, res.token, res.expiresAt);
        io.stdout.write(`Welcome, ${sanitize(res.user.username, false)}! You are signed in to ${server}.\nSession saved in ${path}.\nRun \`${command()}\` to start chatting.\n`);
        return EXIT.ok;
      } catch (error) {
        const taken = error instanceof ChatterApiError && error.code === 'username_taken';
        if (taken && prompter.interactive && !options.username && attempt < MAX_ATTEMPTS) {
          io.stderr.write(`  ${sanitize(error.message, false)}\n`);
          username = await askValid(prompter, io, 'Username', checkUsername);
          continue;
        }
        if (error instanceof CliError) throw error;
        throw new CliError(describeApiError(error, server));
      }
    }
  });
}

export async function logout(options: OptionValues, io: IO): Promise<number> {
  const session = resolveSession(options, io.env);
  if (!session.token) {
    io.stdout.write(`Not signed in to ${session.server}; nothing to do.\n`);
    return EXIT.ok;
  }
  const forget = () => {
    const config = readConfig(io.env);
    if (config.sessions[session.server]?.token === session.token) {
      delete config.sessions[session.server];
      writeConfig(config, io.env);
      return true;
    }
    return false;
  };
  try {
    // A token the server no longer knows counts as signed out (the SDK treats 401 as success).
    await new ChatterApi({ baseUrl: session.server, token: session.token }).logout();
  } catch (error) {
    if (options.force) {
      forget();
      io.stderr.write(`Warning: could not reach ${session.server}, so the session was not revoked there; forgot it here.\n`);
      return EXIT.ok;
    }
    throw new CliError(
      `${describeApiError(error, session.server)} The session was not revoked and is still saved; try again when the server is up, or run \`${command('logout --force')}\` to only forget it here.`,
    );
  }
  const removed = forget();
  io.stdout.write(`Signed out of ${session.server}.${removed ? ` Removed the session from ${configPath(io.env)}.` : ''}\n`);
  return EXIT.ok;
}

export async function whoami(options: OptionValues, io: IO): Promise<number> {
  const session = resolveSession(options, io.env);
  const token = requireToken(session);
  try {
    const me = await new ChatterApi({ baseUrl: session.server, token }).me();
    io.stdout.write(`${sanitize(me.user.username, false)} on ${session.server} (session valid until ${new Date(me.session.expiresAt).toLocaleString()})\n`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof ChatterApiError && error.status === 401) throw new CliError(rejectedTokenMessage(session));
    throw new CliError(describeApiError(error, session.server));
  }
}
