import { readFileSync } from 'node:fs';
import { parseArgs, usage, UsageError } from './args.js';
import { chat } from './commands/chat.js';
import { login, logout, register, whoami, type IO } from './commands/auth.js';
import { send } from './commands/send.js';
import { tail } from './commands/tail.js';
import { ConfigFileError } from './config.js';
import { CliError, EXIT } from './context.js';
import { detectInvocation, setInvocation } from './invocation.js';
import { sanitize } from './term/ansi.js';

export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export type CliIO = IO & { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream };

/**
 * Run `chatter` with `argv` (without node and the script) and return the exit code. Every
 * expected failure ends as one line on stderr, never a stack trace.
 */
export async function main(argv: readonly string[], io: CliIO = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  setInvocation(detectInvocation(io.env));
  // Error messages quote what servers said (a REST error, a refused message's reason): a hostile
  // or broken server must not reach the terminal through them. One line each, as documented.
  const fail = (message: string) => io.stderr.write(`chatter: ${sanitize(message, false)}\n`);
  try {
    const parsed = parseArgs(argv);
    if (parsed.options.version) {
      io.stdout.write(`chatter ${version()}\n`);
      return EXIT.ok;
    }
    if (parsed.options.help || parsed.command === 'help') {
      const topic = parsed.command === 'help' ? parsed.args[0] : parsed.implicit ? undefined : parsed.command;
      io.stdout.write(`${usage(topic)}\n`);
      return EXIT.ok;
    }
    switch (parsed.command) {
      case 'login':
        return await login(parsed.options, io);
      case 'register':
        return await register(parsed.options, io);
      case 'logout':
        return await logout(parsed.options, io);
      case 'whoami':
        return await whoami(parsed.options, io);
      case 'send':
        return await send(parsed.args, parsed.options, io);
      case 'tail':
        return await tail(parsed.args, parsed.options, io);
      default:
        return await chat(parsed.args, parsed.options, io);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      fail(error.message);
      return EXIT.usage;
    }
    if (error instanceof CliError) {
      fail(error.message);
      return error.exitCode;
    }
    if (error instanceof ConfigFileError) {
      fail(error.message);
      return EXIT.failure;
    }
    const message = error instanceof Error ? error.message : String(error);
    fail(`unexpected error: ${message}`);
    if (io.env.CHATTER_DEBUG && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    return 70;
  }
}
