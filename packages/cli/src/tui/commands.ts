import type { PublicUser } from '@chatter/protocol';

/**
 * What a slash command can do to the chat. The full-screen app implements it; commands never
 * reach into the app's internals, so new ones (/join, /dm, /reply, /react, /edit, /search) only
 * need new methods here, not a new structure.
 */
export interface CommandContext {
  /** The room the user is looking at. */
  readonly room: string;
  /** The signed-in user's name, once the server said hello. */
  readonly username: string | undefined;
  /** Send a message to the current room (queued while offline). */
  send(text: string): void;
  /** Replace the text of the user's newest message in the current room. */
  editLast(text: string): void;
  /** Delete the user's newest message in the current room. */
  deleteLast(): void;
  /** Toggle the user's reaction with `emoji` on the newest message of the current room. */
  react(emoji: string): void;
  /** Show a line in the message pane that is not a chat message. */
  notice(text: string, tone?: 'info' | 'error' | 'output'): void;
  /** Online users of a room (default: the current one). */
  online(room?: string): PublicUser[];
  /** Exact number online (in a large room `online()` lists only some). */
  onlineCount(room?: string): number;
  /** Names worth completing: online users and recent authors. */
  knownUsers(): string[];
  /** Fetch up to `count` older messages of the current room; resolves with how many arrived. */
  loadOlder(count: number): Promise<number>;
  /** Scroll the message pane to the oldest loaded message. */
  scrollToTop(): void;
  /** Reconnect now instead of waiting for the next retry. */
  reconnect(): void;
  quit(): void;
  readonly commands: CommandRegistry;
}

export interface ChatCommand {
  /** Without the slash, lower case. */
  name: string;
  aliases?: string[];
  /** Argument synopsis for help, such as `<action>` or `[n]`. */
  args?: string;
  /** One line for /help. */
  summary: string;
  /** More lines for `/help <command>`. */
  details?: string[];
  /**
   * Candidates for the argument being typed (`index` counts from 0). Default: user names, which
   * is what most commands (/dm, /react...) will want.
   */
  complete?(ctx: CommandContext, index: number, partial: string): string[];
  /** `args` is the raw text after the command name, trimmed. */
  run(ctx: CommandContext, args: string): void | Promise<void>;
}

export class CommandRegistry {
  private readonly commands = new Map<string, ChatCommand>();
  private readonly aliases = new Map<string, string>();

  register(command: ChatCommand): this {
    const name = command.name.toLowerCase();
    if (this.commands.has(name) || this.aliases.has(name)) throw new Error(`Command /${name} is already registered.`);
    this.commands.set(name, command);
    for (const alias of command.aliases ?? []) this.aliases.set(alias.toLowerCase(), name);
    return this;
  }

  get(name: string): ChatCommand | undefined {
    const key = name.toLowerCase();
    return this.commands.get(key) ?? this.commands.get(this.aliases.get(key) ?? '');
  }

  list(): ChatCommand[] {
    return [...this.commands.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Command names (and aliases) starting with `prefix`, as typed (without the slash). */
  names(prefix = ''): string[] {
    const p = prefix.toLowerCase();
    const all = [...this.commands.keys(), ...this.aliases.keys()].filter((n) => n.startsWith(p));
    // Prefer real names over aliases; aliases only when nothing else matches.
    const real = all.filter((n) => this.commands.has(n));
    return (real.length ? real : all).sort();
  }

  /**
   * Run a line typed in the input. Lines starting with "//" are messages that begin with a
   * slash; every other line starting with "/" is a command.
   */
  async execute(ctx: CommandContext, line: string): Promise<void> {
    const match = /^\/(\S+)\s*([\s\S]*)$/.exec(line.trim());
    if (!match) return;
    const [, name, args] = match as unknown as [string, string, string];
    const command = this.get(name);
    if (!command) {
      ctx.notice(`Unknown command /${name}. Type /help for the list; start a message with // to send a slash.`, 'error');
      return;
    }
    try {
      await command.run(ctx, args.trim());
    } catch (error) {
      ctx.notice(`/${command.name}: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
  }
}

const HISTORY_DEFAULT = 50;
const HISTORY_MAX = 1000;

/** The commands of this issue. */
export function builtinCommands(): ChatCommand[] {
  return [
    {
      name: 'help',
      aliases: ['?'],
      args: '[command]',
      summary: 'List commands and keys, or explain one.',
      complete: (ctx, index, partial) => (index === 0 ? ctx.commands.names(partial.replace(/^\//, '')) : []),
      run(ctx, args) {
        if (args) {
          const command = ctx.commands.get(args.replace(/^\//, ''));
          if (!command) return ctx.notice(`No command /${args.replace(/^\//, '')}. Type /help for the list.`, 'error');
          const lines = [`/${command.name}${command.args ? ` ${command.args}` : ''}  ${command.summary}`, ...(command.details ?? [])];
          if (command.aliases?.length) lines.push(`Also: ${command.aliases.map((a) => `/${a}`).join(', ')}`);
          return ctx.notice(lines.join('\n'), 'output');
        }
        const rows = ctx.commands.list().map((c) => `  ${`/${c.name}${c.args ? ` ${c.args}` : ''}`.padEnd(18)} ${c.summary}`);
        ctx.notice(
          [
            'Commands:',
            ...rows,
            'Keys: Enter send · Tab complete · Up/Down recall · Alt+Enter new line',
            '      PgUp/PgDn scroll · Esc back to latest · Ctrl+A/E start/end',
            '      Ctrl+U/K/W delete · Ctrl+L redraw · Ctrl+C quit',
            'Start a message with // to send a leading slash.',
          ].join('\n'),
          'output',
        );
      },
    },
    {
      name: 'who',
      aliases: ['names', 'online'],
      summary: 'Show who is online here.',
      run(ctx) {
        const users = ctx.online().map((u) => u.username).sort((a, b) => a.localeCompare(b));
        const count = Math.max(ctx.onlineCount(), users.length);
        const more = count > users.length ? ` and ${count - users.length} more` : '';
        ctx.notice(users.length ? `Online in #${ctx.room} (${count}): ${users.join(', ')}${more}` : `Nobody is online in #${ctx.room} (or you are offline).`, 'output');
      },
    },
    {
      name: 'me',
      args: '<action>',
      summary: 'Send an action: /me waves -> * you waves',
      run(ctx, args) {
        if (!args) return ctx.notice('Usage: /me <action>', 'error');
        ctx.send(`/me ${args}`);
      },
    },
    {
      name: 'edit',
      args: '<text>',
      summary: 'Change the text of your last message here.',
      complete: () => [],
      run(ctx, args) {
        if (!args) return ctx.notice('Usage: /edit <new text>', 'error');
        ctx.editLast(args);
      },
    },
    {
      name: 'delete',
      summary: 'Delete your last message here (for everyone).',
      complete: () => [],
      run(ctx, args) {
        if (args) return ctx.notice('Usage: /delete (deletes your last message)', 'error');
        ctx.deleteLast();
      },
    },
    {
      name: 'react',
      args: '<emoji>',
      summary: 'React to the newest message (again to take it back): /react 👍',
      complete: () => [],
      run(ctx, args) {
        if (!args) return ctx.notice('Usage: /react <emoji>, for example /react 👍', 'error');
        ctx.react(args);
      },
    },
    {
      name: 'history',
      args: '[n]',
      summary: `Load n older messages (default ${HISTORY_DEFAULT}).`,
      complete: () => [],
      async run(ctx, args) {
        const n = args ? Number(args) : HISTORY_DEFAULT;
        if (!Number.isInteger(n) || n < 1 || n > HISTORY_MAX) return ctx.notice(`Usage: /history [n], n from 1 to ${HISTORY_MAX}.`, 'error');
        const loaded = await ctx.loadOlder(n);
        ctx.notice(loaded === 0 ? 'No older messages.' : `Loaded ${loaded} older message${loaded === 1 ? '' : 's'}.`, 'info');
        if (loaded > 0) ctx.scrollToTop();
      },
    },
    {
      name: 'reconnect',
      summary: 'Reconnect now instead of waiting.',
      complete: () => [],
      run(ctx) {
        ctx.reconnect();
      },
    },
    {
      name: 'quit',
      aliases: ['exit', 'q'],
      summary: 'Leave chatter (also Ctrl+C).',
      complete: () => [],
      run(ctx) {
        ctx.quit();
      },
    },
  ];
}
