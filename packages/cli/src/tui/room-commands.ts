import { DEFAULT_NOTIFY, type NotifyLevel } from '@chatter/protocol';
import { looksLikeLink } from '../links.js';
import type { ChatCommand, CommandContext, RoomEntry } from './commands.js';

/** Badges as the status line and /rooms show them: `3` unread, `3 @1` with one mention. */
export function countBadge(unread: number, mentions: number): string {
  if (unread === 0 && mentions === 0) return '';
  const n = (x: number) => (x >= 999 ? '999+' : String(x));
  return mentions > 0 ? `${n(unread)} @${n(mentions)}` : n(unread);
}

function roomNames(ctx: CommandContext, partial: string): string[] {
  const p = partial.replace(/^#/, '').toLowerCase();
  return ctx
    .roomList()
    .filter((r) => r.kind === 'channel' && r.label.slice(1).toLowerCase().startsWith(p) && !/\s/.test(r.label))
    .map((r) => r.label.slice(1));
}

/** What a level means, as /notify says it. */
const LEVEL_WORDS: Readonly<Record<NotifyLevel, string>> = { all: 'every message', mentions: 'mentions of you only', none: 'nothing (muted)' };

/** A room's level where it is not its kind's default: "muted", "notify: all", "notify: mentions". */
export function levelMark(notify: NotifyLevel | undefined, kind: 'channel' | 'dm'): string {
  if (notify === undefined || notify === DEFAULT_NOTIFY[kind]) return '';
  return notify === 'none' ? 'muted' : `notify: ${notify}`;
}

function formatRoom(r: RoomEntry): string {
  const badge = countBadge(r.unread, r.mentions);
  const topic = r.topic ? `  ${r.topic}` : '';
  const level = levelMark(r.notify ?? (r.muted ? 'none' : undefined), r.kind);
  return `${r.current ? '>' : ' '}${String(r.n).padStart(2)} ${r.label}${badge ? `  (${badge})` : ''}${level ? `  ${level}` : ''}${topic}`;
}

async function setLevel(ctx: CommandContext, level: NotifyLevel): Promise<void> {
  const now = ctx.notifyLevel();
  if (now?.level === level) return ctx.notice(`${ctx.roomLabel} already notifies ${LEVEL_WORDS[level]}.`, 'info');
  await ctx.setNotify(level);
  if (ctx.notifyLevel()?.level === level) ctx.notice(`${ctx.roomLabel} now notifies ${LEVEL_WORDS[level]}, on all your devices.`, 'info');
}

/** Rooms and DMs: /rooms, /join, /leave, /dm, /create, /invite. */
export function roomCommands(): ChatCommand[] {
  return [
    {
      name: 'rooms',
      aliases: ['list', 'channels'],
      args: '[public [name]]',
      summary: 'Your rooms and DMs; public: browse channels.',
      details: ['Alt+1..9 opens room n of the list; Ctrl+N / Ctrl+P the next / previous one; /switch <n|name> any.'],
      complete: (_ctx, index, partial) => (index === 0 && 'public'.startsWith(partial) ? ['public'] : []),
      async run(ctx, args) {
        const [first, ...rest] = args.split(/\s+/).filter(Boolean);
        if (first === 'public') {
          const rooms = await ctx.browseRooms(rest.join(' '));
          if (rooms.length === 0) return ctx.notice(rest.length ? `No public room starts with "${rest.join(' ')}".` : 'No public rooms yet. /create <name> makes one.', 'output');
          const lines = rooms.map((r) => `  ${r.joined ? '✓' : ' '} #${r.name}  ${r.memberCount} member${r.memberCount === 1 ? '' : 's'}${r.topic ? `  ${r.topic}` : ''}`);
          return ctx.notice(['Public rooms (✓ joined; /join <name> to join):', ...lines].join('\n'), 'output');
        }
        if (first !== undefined) return ctx.notice('Usage: /rooms, or /rooms public [name]', 'error');
        const list = ctx.roomList();
        const channels = list.filter((r) => r.kind === 'channel').map(formatRoom);
        const dms = list.filter((r) => r.kind === 'dm').map(formatRoom);
        ctx.notice(
          ['Rooms (Alt+n opens one; (3 @1) = 3 unread, 1 mentioning you):', ...channels, ...(dms.length ? ['Direct messages:', ...dms] : []), 'More: /rooms public · /join <room> · /dm <user> · /create <name>'].join('\n'),
          'output',
        );
      },
    },
    {
      name: 'switch',
      aliases: ['go', 'open'],
      args: '<n|room|link>',
      summary: 'Open a room or DM, or a message link.',
      details: [
        '/switch 2      room 2 of /rooms (Alt+2)',
        '/switch dev    #dev; /switch @bob the DM with bob',
        '/open <link>   a message link (/link, the web app): its room, at the message',
      ],
      complete: (ctx, index, partial) => (index === 0 ? roomNames(ctx, partial) : []),
      async run(ctx, args) {
        if (!args) return ctx.notice('Usage: /switch <n|room|link>', 'error');
        if (looksLikeLink(args)) return ctx.openLink(args);
        if (!ctx.switchRoom(args)) ctx.notice(`You are not in "${args}". /rooms lists yours; /join ${args} joins a public one.`, 'error');
      },
    },
    {
      name: 'join',
      aliases: ['j'],
      args: '<room>',
      summary: 'Join a public room by name or id.',
      complete: (ctx, index, partial) => (index === 0 ? roomNames(ctx, partial) : []),
      async run(ctx, args) {
        if (!args) return ctx.notice('Usage: /join <room> (see /rooms public)', 'error');
        // A pasted message link: the room it names is one of the user's, or it is not theirs to see.
        if (looksLikeLink(args)) return ctx.openLink(args);
        await ctx.joinRoom(args);
      },
    },
    {
      name: 'leave',
      aliases: ['part'],
      summary: 'Leave this room.',
      details: ['Not #general (everyone is in it), not a DM.'],
      complete: () => [],
      async run(ctx, args) {
        if (args) return ctx.notice('Usage: /leave (leaves the room you are looking at)', 'error');
        await ctx.leaveRoom();
      },
    },
    {
      name: 'dm',
      aliases: ['msg', 'query'],
      args: '<user> [user...]',
      summary: 'Open the DM with people (up to 10).',
      details: ['/dm bob opens (or finds) your DM with bob; /dm bob carol a group. The same people always get the same DM.'],
      async run(ctx, args) {
        const names = args.split(/[\s,]+/).filter(Boolean);
        if (names.length === 0) return ctx.notice('Usage: /dm <user> [user...]', 'error');
        await ctx.openDm(names);
      },
    },
    {
      name: 'create',
      args: '<name> [--private]',
      summary: 'Create a room and open it.',
      details: ['Anyone can find and join a public room (/rooms public); --private: only people you /invite.'],
      complete: (_ctx, _index, partial) => ('--private'.startsWith(partial) && partial.startsWith('-') ? ['--private'] : []),
      async run(ctx, args) {
        const words = args.split(/\s+/).filter(Boolean);
        const isPrivate = words.includes('--private');
        const name = words.filter((w) => w !== '--private' && w !== '--public').join(' ').replace(/^#/, '');
        if (!name) return ctx.notice('Usage: /create <name> [--private]', 'error');
        await ctx.createRoom(name, isPrivate ? 'private' : 'public');
      },
    },
    {
      name: 'invite',
      aliases: ['add'],
      args: '<user> [user...]',
      summary: 'Add people to this room.',
      async run(ctx, args) {
        const names = args.split(/[\s,]+/).filter(Boolean);
        if (names.length === 0) return ctx.notice('Usage: /invite <user> [user...]', 'error');
        await ctx.invite(names);
      },
    },
    {
      name: 'notify',
      args: '[level]',
      summary: 'Notifications here: all, mentions, none.',
      details: [
        '/notify           show the level here',
        '/notify all       every message',
        '/notify mentions  only messages that mention you (the default in rooms)',
        '/notify none      nothing: muted, its unread count is not called out (also /mute)',
        '/unmute           back to the default of the room (or DM)',
        'DMs notify every message unless you choose otherwise. The level is your account\'s: the web app and your other terminals follow it.',
      ],
      complete: (_ctx, index, partial) => (index === 0 ? (['all', 'mentions', 'none'] as const).filter((l) => l.startsWith(partial.toLowerCase())) : []),
      async run(ctx, args) {
        const arg = args.trim().toLowerCase();
        if (!arg) {
          const now = ctx.notifyLevel();
          if (!now) return ctx.notice('The level of this room is not known yet (not connected).', 'error');
          const def = now.level === DEFAULT_NOTIFY[now.kind] ? ' (the default)' : '';
          return ctx.notice(`${ctx.roomLabel} notifies ${LEVEL_WORDS[now.level]}${def}. /notify all|mentions|none changes it.`, 'output');
        }
        if (arg !== 'all' && arg !== 'mentions' && arg !== 'none') return ctx.notice('Usage: /notify [all|mentions|none]', 'error');
        await setLevel(ctx, arg);
      },
    },
    {
      name: 'mute',
      summary: 'Mute this room (/notify none).',
      unlisted: true,
      complete: () => [],
      async run(ctx, args) {
        if (args) return ctx.notice('Usage: /mute (mutes the room you are looking at)', 'error');
        await setLevel(ctx, 'none');
      },
    },
    {
      name: 'unmute',
      summary: "Unmute this room: back to its kind's default.",
      unlisted: true,
      details: ['Rooms go back to mentions only, DMs to every message; /notify all|mentions chooses.'],
      complete: () => [],
      async run(ctx, args) {
        if (args) return ctx.notice('Usage: /unmute (unmutes the room you are looking at)', 'error');
        const now = ctx.notifyLevel();
        if (!now) return ctx.notice('The level of this room is not known yet (not connected).', 'error');
        if (now.level !== 'none') return ctx.notice(`${ctx.roomLabel} is not muted: it notifies ${LEVEL_WORDS[now.level]}.`, 'info');
        await setLevel(ctx, DEFAULT_NOTIFY[now.kind]);
      },
    },
  ];
}
