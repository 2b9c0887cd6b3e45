/*
 * Command-line parsing: `chatter [command] [options] [arguments]`. Options may come before or
 * after the command, as `--name value`, `--name=value` or a short alias; `--` ends options.
 */

import { command as program } from './invocation.js';
import { looksLikeLink } from './links.js';

export interface OptionSpec {
  name: string;
  short?: string;
  /** Takes a value (`--server URL`); otherwise a boolean switch. */
  value?: string;
  /** `--no-<name>` sets it to false. */
  negatable?: boolean;
  help: string;
}

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'server', short: 's', value: 'URL', help: 'Server (env CHATTER_SERVER; default: the saved one, else http://127.0.0.1:8000).' },
  { name: 'token', value: 'TOKEN', help: 'Session token instead of the saved one (env CHATTER_TOKEN).' },
  { name: 'color', negatable: true, help: '--no-color turns colors off (like NO_COLOR=1).' },
  { name: 'help', short: 'h', help: 'Show help.' },
  { name: 'version', short: 'V', help: 'Print the version.' },
];

export interface CommandDef {
  name: string;
  usage: string;
  summary: string;
  options: OptionSpec[];
  /** Most positional arguments accepted (Infinity for free text). */
  maxArgs: number;
}

export const COMMANDS: CommandDef[] = [
  { name: 'chat', usage: 'chatter [chat] [room | link]', summary: 'Open the full-screen chat (the default command).', options: [], maxArgs: 1 },
  {
    name: 'login',
    usage: 'chatter login [--username NAME]',
    summary: 'Sign in and store the session token.',
    options: [{ name: 'username', short: 'u', value: 'NAME', help: 'Username or email (asked when omitted).' }],
    maxArgs: 0,
  },
  {
    name: 'register',
    usage: 'chatter register [--username NAME] [--email EMAIL]',
    summary: 'Create an account, sign in and store the session token.',
    options: [
      { name: 'username', short: 'u', value: 'NAME', help: 'Username (asked when omitted).' },
      { name: 'email', value: 'EMAIL', help: 'Email address (optional).' },
    ],
    maxArgs: 0,
  },
  {
    name: 'logout',
    usage: 'chatter logout [--force]',
    summary: 'Revoke the session on the server and forget the stored token.',
    options: [{ name: 'force', short: 'f', help: 'Forget the token even when the server cannot be reached.' }],
    maxArgs: 0,
  },
  { name: 'whoami', usage: 'chatter whoami', summary: 'Show who you are signed in as, and where.', options: [], maxArgs: 0 },
  {
    name: 'send',
    usage: 'chatter send [room] <text>   |   ... | chatter send [--room ROOM | --dm USER]',
    summary: 'Send a message (stdin when no text is given); waits until it is stored.',
    options: [
      { name: 'room', short: 'r', value: 'ROOM', help: 'Room to send to, by name or id (default general).' },
      { name: 'dm', value: 'USER', help: 'Send to the DM with USER (USER,USER... for a group); opens it if needed.' },
      { name: 'json', help: "Print the server's acknowledgement (id, room, seq, createdAt) as JSON." },
      { name: 'timeout', value: 'SECONDS', help: 'Give up after this long (default 15).' },
    ],
    maxArgs: Infinity,
  },
  {
    name: 'tail',
    usage: 'chatter tail [room | --room ROOM | --dm USER] [--json] [-n N] [--no-follow]',
    summary: 'Print recent messages, then new ones as they arrive.',
    options: [
      { name: 'room', short: 'r', value: 'ROOM', help: 'Room to read, by name or id (default general).' },
      { name: 'dm', value: 'USER', help: 'Read the DM with USER (USER,USER... for a group).' },
      { name: 'json', help: 'One JSON object per line (the protocol Message), for jq and scripts.' },
      { name: 'lines', short: 'n', value: 'N', help: 'Recent messages to print first, 0-100 (default 10).' },
      { name: 'follow', negatable: true, help: 'Use --no-follow to print recent messages and exit.' },
    ],
    maxArgs: 1,
  },
  { name: 'help', usage: 'chatter help [command]', summary: 'Show help.', options: [], maxArgs: 1 },
];

export type OptionValues = Record<string, string | boolean | undefined>;

export interface ParsedArgs {
  command: string;
  /** True when the command was not named (plain `chatter`). */
  implicit: boolean;
  args: string[];
  options: OptionValues;
}

export class UsageError extends Error {}

const OPTION_TOKEN = /^(--?)([A-Za-z][\w-]*)(?:=([\s\S]*))?$/;

export function parseArgs(argv: readonly string[]): ParsedArgs {
  // Whether an option takes a value is the same in every command, so one pass over all known
  // options can tell option values from positional arguments before the command is known.
  const allSpecs = [...GLOBAL_OPTIONS, ...COMMANDS.flatMap((c) => c.options)];
  const positionals: string[] = [];
  const given: Array<{ token: string; spec: OptionSpec; value: string | boolean }> = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    const m = OPTION_TOKEN.exec(token);
    if (!m) {
      positionals.push(token);
      continue;
    }
    const dashes = m[1]!;
    const name = m[2]!;
    const inline = m[3];
    const flag = token.split('=')[0]!;
    const spec =
      dashes === '--'
        ? allSpecs.find((s) => s.name === name || (s.negatable && `no-${s.name}` === name))
        : name.length === 1
          ? allSpecs.find((s) => s.short === name)
          : undefined;
    if (!spec) throw new UsageError(`Unknown option ${flag}. Run \`${program('help')}\` to see the options.`);
    if (spec.value) {
      let value = inline;
      if (value === undefined) {
        value = argv[i + 1];
        if (value === undefined) throw new UsageError(`Option ${flag} needs a value (${spec.value}).`);
        i++;
      }
      given.push({ token: flag, spec, value });
    } else {
      if (inline !== undefined) throw new UsageError(`Option ${flag} takes no value.`);
      given.push({ token: flag, spec, value: !(dashes === '--' && name === `no-${spec.name}`) });
    }
  }

  let command = 'chat';
  let implicit = true;
  if (positionals.length > 0) {
    const named = COMMANDS.find((c) => c.name === positionals[0]);
    if (named) {
      command = named.name;
      implicit = false;
      positionals.shift();
    } else if (!looksLikeLink(positionals[0]!)) {
      // `chatter foo` is far more likely a mistyped command than anything else; a pasted message link (`chatter <link>`) is plainly not one.
      throw new UsageError(`Unknown command "${positionals[0]}". Run \`${program('help')}\` to see the commands.`);
    }
  }
  const def = COMMANDS.find((c) => c.name === command)!;
  const allowed = new Set([...GLOBAL_OPTIONS, ...def.options].map((o) => o.name));
  const options: OptionValues = {};
  for (const { token, spec, value } of given) {
    if (!allowed.has(spec.name)) {
      throw new UsageError(`Option ${token} does not apply to \`${program(command)}\`. Run \`${program(`help ${command}`)}\`.`);
    }
    options[spec.name] = value;
  }
  if (positionals.length > def.maxArgs && !options.help) {
    throw new UsageError(`Too many arguments for \`${program(command)}\`. Usage: ${named(def.usage)}`);
  }
  return { command, implicit, args: positionals, options };
}

/** A usage line as the user would type it here: `chatter send ...` becomes `npm run chat -- send ...`. */
function named(line: string): string {
  return line.replace(/\bchatter\b( [^|]*[^|\s])?/g, (_, rest?: string) => program(rest?.trim() ?? ''));
}

export function usage(command?: string): string {
  const def = command ? COMMANDS.find((c) => c.name === command) : undefined;
  const formatOption = (o: OptionSpec) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${o.negatable ? `[no-]${o.name}` : o.name}${o.value ? ` ${o.value}` : ''}`;
    return `  ${flag.padEnd(26)} ${o.help}`;
  };
  if (def) {
    const lines = [`Usage: ${named(def.usage)}`, '', def.summary];
    if (def.options.length) lines.push('', 'Options:', ...def.options.map(formatOption));
    lines.push('', 'Global options:', ...GLOBAL_OPTIONS.map(formatOption));
    return lines.join('\n');
  }
  const example = (args: string, what: string) => `  ${program(args).padEnd(34)} ${what}`;
  return [
    'chatter: the Chatter terminal client',
    '',
    `Usage: ${program('[command] [options]')}`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    '',
    'Options:',
    ...GLOBAL_OPTIONS.map(formatOption),
    '',
    'Environment: CHATTER_SERVER, CHATTER_TOKEN, CHATTER_CONFIG_DIR, NO_COLOR.',
    'Examples:',
    example('register', 'create an account on http://127.0.0.1:8000'),
    example('', 'open the chat in #general'),
    example('send "build finished"', 'send a message to #general'),
    `  make 2>&1 | tail -5 | ${program('send general', { inPipe: true })}`,
    `  ${program('tail --json', { inPipe: true })} | jq -r '.author.username + ": " + .text'`,
  ].join('\n');
}
