import type { NotifyLevel, PublicUser } from '@chatter/protocol';
import { completeShortcode, resolveEmoji } from '../emoji.js';

/**
 * What a slash command can do to the chat. The full-screen app implements it; commands never
 * reach into the app's internals, so new ones (/join, /dm, /reply, /react, /edit, /search) only
 * need new methods here, not a new structure.
 */
export interface CommandContext {
  /** The room the user is looking at (its id). */
  readonly room: string;
  /** Its name as shown: `#general`, `@bob`. */
  readonly roomLabel: string;
  /** The signed-in user's name, once the server said hello. */
  readonly username: string | undefined;
  /** Send a message to the current room (queued while offline). */
  send(text: string): void;
  /** Replace the text of a message of the user's (`null`: their newest in the current room). */
  editMessage(ref: MessageRef | null, text: string): void;
  /** Delete a message (`null`: the user's newest in the current room). */
  deleteMessage(ref: MessageRef | null): void;
  /** Toggle the user's reaction with `emoji` on a message (`null`: the newest of the current room). */
  react(emoji: string, ref: MessageRef | null): void;
  /**
   * Who reacted to a message, per emoji (names of the reactors the message lists, "you" for the
   * user; `count` is exact), or null when there is no such message.
   */
  reactionsOf(ref: MessageRef): { /** Its author's name, or "you". */ author: string; text: string; reactions: Array<{ emoji: string; count: number; names: string[] }> } | null;
  /** The web app's link to a message of the current room (and who wrote what), or null when there is no such message. */
  linkTo(ref: MessageRef): { link: string; author: string; text: string } | null;
  /**
   * Open a message link (`<server>/#<room>/m/<id>`, the web app's "Copy link" or `/link`): its
   * room, scrolled to the message, loaded around it however far back it is.
   */
  openLink(link: string): Promise<void>;
  /** Show or hide message ids (`#123`) in front of messages; returns whether they are shown now. */
  toggleIds(): boolean;
  /** The user's rooms and DMs, in the order Alt+1..9 numbers them. */
  roomList(): RoomEntry[];
  /** Open one of the user's rooms by number (1-based, as /rooms shows), name, `@dm` label or id. */
  switchRoom(ref: string): boolean;
  /** Public channels whose name starts with `q`. */
  browseRooms(q: string): Promise<Array<{ id: string; name: string; topic: string; memberCount: number; joined: boolean }>>;
  /** Join a public channel by name or id (or open it if already in it). */
  joinRoom(ref: string): Promise<void>;
  /** Leave the current room. */
  leaveRoom(): Promise<void>;
  /** Open (or find) the DM with these people and switch to it. */
  openDm(usernames: string[]): Promise<void>;
  createRoom(name: string, visibility: 'public' | 'private', topic?: string): Promise<void>;
  /** Add people to the current room. */
  invite(usernames: string[]): Promise<void>;
  /** The user's notification level in the current room (the one in effect), once it is known. */
  notifyLevel(): { level: NotifyLevel; kind: 'channel' | 'dm' } | null;
  /** Set it (for every device of the user's: the server tells them). */
  setNotify(level: NotifyLevel): Promise<void>;
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

/** Which message a command acts on: the `nth` newest in the room (1 = newest), or a message id. */
export type MessageRef = { nth: number } | { id: number };

export interface RoomEntry {
  /** Its number in the list (Alt+n for the first nine). */
  n: number;
  id: string;
  label: string;
  topic: string;
  kind: 'channel' | 'dm';
  unread: number;
  mentions: number;
  current: boolean;
  /** Notification level `none`, from any of the user's devices: its unread count is not called out. */
  muted?: boolean;
  /** The notification level in effect (the user's choice, or the default of the room's kind). */
  notify?: NotifyLevel;
}

/**
 * A leading message reference of a command's arguments: `3` (the third newest message) or `#123`
 * (the message whose id `/ids` shows). `rest` is what follows it.
 */
export function parseMessageRef(args: string): { ref: MessageRef | null; rest: string } {
  const m = /^(#?)(\d{1,9})(?:\s+|$)([\s\S]*)$/.exec(args);
  if (!m) return { ref: null, rest: args };
  const n = Number(m[2]);
  if (m[1] === '#') return { ref: { id: n }, rest: m[3]! };
  if (n < 1) return { ref: null, rest: args };
  return { ref: { nth: n }, rest: m[3]! };
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
  /** Left out of /help's list (a shorthand another command's line names); `/help <command>` still explains it. */
  unlisted?: boolean;
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
        // One row per command, short enough for 80 columns, so the whole list fits a 24-row terminal.
        const rows = ctx.commands
          .list()
          .filter((c) => !c.unlisted)
          .map((c) => `${`/${c.name}${c.args ? ` ${c.args}` : ''}`.padEnd(26)} ${c.summary}`);
        ctx.notice(
          [
            'Commands: (/help <command> for examples; /ids shows ids for #id)',
            ...rows,
            'Keys: Tab complete · Alt+1..9, Ctrl+N/P switch room · Up/Down recall',
            '      PgUp/PgDn scroll · Esc latest · Alt+Enter new line · Ctrl+C quit',
          ].join('\n'),
          'output',
        );
      },
    },
    {
      name: 'who',
      aliases: ['names', 'online'],
      args: '[n|#id]',
      summary: 'Who is online here; with n or #id, who reacted.',
      details: ['/who        who is online in this room', '/who 2      who reacted to the 2nd newest message, emoji by emoji', '/who #1234  who reacted to the message with id 1234 (/ids shows ids)'],
      complete: () => [],
      run(ctx, args) {
        if (args) {
          const { ref, rest } = parseMessageRef(args);
          if (!ref || rest) return ctx.notice('Usage: /who [n|#id], for example /who 1 for the newest message.', 'error');
          const found = ctx.reactionsOf(ref);
          if (!found) return ctx.notice('id' in ref ? `No message #${ref.id} in this room (or it was deleted). /ids shows ids.` : `There are fewer than ${ref.nth} messages here.`, 'error');
          const quote = found.text.length > 40 ? `${found.text.slice(0, 40)}…` : found.text;
          const whose = found.author === 'you' ? 'your' : `${found.author}'s`;
          if (found.reactions.length === 0) return ctx.notice(`No reactions on ${whose} "${quote}".`, 'output');
          const lines = found.reactions.map((r) => {
            const others = r.count - r.names.length;
            const rest = r.names.length > 0 ? (others === 1 ? 'other' : 'others') : others === 1 ? 'person' : 'people';
            const names = others > 0 ? [...r.names, `${others} ${rest}`] : r.names;
            return `  ${r.emoji} ${r.count}  ${names.join(', ')}`;
          });
          return ctx.notice([`Reactions on ${whose} "${quote}":`, ...lines].join('\n'), 'output');
        }
        const users = ctx.online().map((u) => u.username).sort((a, b) => a.localeCompare(b));
        const count = Math.max(ctx.onlineCount(), users.length);
        const more = count > users.length ? ` and ${count - users.length} more` : '';
        ctx.notice(users.length ? `Online in ${ctx.roomLabel} (${count}): ${users.join(', ')}${more}` : `Nobody is online in ${ctx.roomLabel} (or you are offline).`, 'output');
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
      args: '[n|#id] <text>',
      summary: 'Edit your last message (n: nth newest).',
      details: [
        '/edit fixed typo        your newest message here',
        '/edit 3 fixed typo      the 3rd newest message here (1 = the newest), if it is yours',
        '/edit #1234 fixed typo  the message with id 1234 (/ids shows ids)',
      ],
      complete: () => [],
      run(ctx, args) {
        const { ref, rest } = parseMessageRef(args);
        if (!rest) return ctx.notice('Usage: /edit [n|#id] <new text>', 'error');
        ctx.editMessage(ref, rest);
      },
    },
    {
      name: 'delete',
      args: '[n|#id]',
      summary: 'Delete your last message (n: nth newest).',
      details: ['/delete      your newest message here', '/delete 2    the 2nd newest message here', '/delete #1234  the message with id 1234 (/ids shows ids)', 'Owners and admins may delete anyone\'s message.'],
      complete: () => [],
      run(ctx, args) {
        const { ref, rest } = parseMessageRef(args);
        if (rest) return ctx.notice('Usage: /delete [n|#id] (without: your last message)', 'error');
        ctx.deleteMessage(ref);
      },
    },
    {
      name: 'react',
      args: '[n|#id] <emoji>',
      summary: 'React with an emoji or :code: (n: nth newest).',
      details: [
        '/react 👍           the newest message',
        '/react 3 :tada:     the 3rd newest message (1 = the newest), by shortcode',
        '/react #1234 +1     the message with id 1234 (/ids shows ids); colons optional',
        'Shortcodes are Slack\'s (:thumbsup:, :joy:, :heart:); Tab completes :co. The same again takes it back.',
        '/who n shows who reacted.',
      ],
      complete: (_ctx, _index, partial) => completeShortcode(partial),
      run(ctx, args) {
        const { ref, rest } = parseMessageRef(args);
        if (!rest) return ctx.notice('Usage: /react [n|#id] <emoji|:code:>, for example /react 👍, /react 2 :tada: or /react 2 +1', 'error');
        const emoji = resolveEmoji(rest);
        if (!emoji) return ctx.notice(`Not an emoji or a known shortcode: ${rest}. Try /react :thumbsup:, /react +1 or an emoji itself.`, 'error');
        ctx.react(emoji, ref);
      },
    },
    {
      name: 'link',
      args: '[n|#id]',
      summary: 'Print the link to a message, for a browser.',
      details: [
        '/link        the newest message here',
        '/link 3      the 3rd newest message here (1 = the newest)',
        '/link #1234  the message with id 1234 (/ids shows ids)',
        'The link opens the message in the web app; /open <link> opens one here.',
      ],
      complete: () => [],
      run(ctx, args) {
        const { ref, rest } = parseMessageRef(args);
        if (rest) return ctx.notice('Usage: /link [n|#id], for example /link 2 for the 2nd newest message.', 'error');
        const found = ctx.linkTo(ref ?? { nth: 1 });
        if (!found) return ctx.notice(!ref ? 'No message here to link to.' : 'id' in ref ? `No message #${ref.id} in this room (or it was deleted). /ids shows ids.` : `There are fewer than ${ref.nth} messages here.`, 'error');
        const quote = found.text.length > 40 ? `${found.text.slice(0, 40)}…` : found.text;
        const whose = found.author === 'you' ? 'your' : `${found.author}'s`;
        // The link alone on its line, so that selecting the line copies nothing else.
        ctx.notice(`Link to ${whose} "${quote}":\n${found.link}`, 'output');
      },
    },
    {
      name: 'ids',
      summary: 'Show or hide message ids, for #id.',
      // Named by /help's first line instead: the list must fit a 24-row terminal.
      unlisted: true,
      complete: () => [],
      run(ctx) {
        ctx.notice(ctx.toggleIds() ? 'Message ids shown: /edit #id, /delete #id, /react #id <emoji>. /ids again hides them.' : 'Message ids hidden.', 'info');
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
