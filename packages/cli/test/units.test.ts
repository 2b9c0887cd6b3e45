import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseArgs, UsageError } from '../src/args.js';
import { configDir, normalizeServerUrl, readConfig, writeConfig } from '../src/config.js';
import { command, detectInvocation } from '../src/invocation.js';
import { plainText, sanitize } from '../src/term/ansi.js';
import { KeyDecoder } from '../src/term/keys.js';
import { Screen } from '../src/term/screen.js';
import { graphemeWidth, stringWidth, truncate } from '../src/term/width.js';
import { wrapSpans } from '../src/term/wrap.js';
import { looksLikeLink, messageLink, parseMessageLink } from '../src/links.js';
import { builtinCommands, CommandRegistry, parseMessageRef, type CommandContext } from '../src/tui/commands.js';
import { countBadge, roomCommands } from '../src/tui/room-commands.js';
import { commonPrefix, complete } from '../src/tui/completion.js';
import { entryLines, mentions } from '../src/tui/layout.js';
import { LineEditor } from '../src/tui/line-editor.js';
import { RoomLog } from '../src/tui/room-log.js';
import { ChatterStore } from '@chatter/client';
import type { Message, NotifyLevel, RoomEvent, SelfUser } from '@chatter/protocol';
import { isEmoji } from '@chatter/protocol';
import { completeShortcode, resolveEmoji, shortcodes } from '../src/emoji.js';
import { tempConfigDir } from './helpers.js';

/* The terminal client's pure parts: measuring, wrapping, key decoding, editing, parsing. */

describe('display width', () => {
  test('ASCII, CJK, emoji, flags, combining marks', () => {
    assert.equal(stringWidth('hello'), 5);
    assert.equal(stringWidth('漢字'), 4);
    assert.equal(stringWidth('🎉'), 2);
    assert.equal(stringWidth('👍🏽'), 2, 'skin tone modifier is one glyph');
    assert.equal(stringWidth('🇫🇷'), 2, 'a flag is one glyph');
    assert.equal(stringWidth('é'), 1, 'e + combining accent');
    assert.equal(stringWidth('❤️'), 2, 'text symbol with emoji presentation selector');
    assert.equal(graphemeWidth('\u200b'), 0);
  });

  test('truncate never splits a wide character', () => {
    assert.equal(truncate('ab漢字', 3), 'ab');
    assert.equal(truncate('ab漢字', 4), 'ab漢');
    assert.equal(truncate('hello world', 8, '…'), 'hello w…');
  });
});

describe('wrapping', () => {
  const text = (lines: ReturnType<typeof wrapSpans>) => lines.map(plainText);

  test('breaks at spaces with a hanging indent, and inside words only when they are too long', () => {
    assert.deepEqual(text(wrapSpans([{ text: '12:00 alice: the quick brown fox jumps' }], 20, 6)), ['12:00 alice: the', '      quick brown', '      fox jumps']);
    assert.deepEqual(text(wrapSpans([{ text: 'abcdefghijklmnop' }], 6)), ['abcdef', 'ghijkl', 'mnop']);
  });

  test('keeps newlines, never exceeds the width with wide characters', () => {
    const lines = text(wrapSpans([{ text: '漢字漢字漢字 🎉🎉🎉\nnext' }], 7, 2));
    for (const line of lines) assert.ok(stringWidth(line) <= 7, `${line} fits`);
    assert.equal(lines.at(-1), '  next');
  });

  test('keeps styles per span across breaks', () => {
    const lines = wrapSpans([{ text: 'name', style: { bold: true } }, { text: ': aaa bbb ccc' }], 9);
    assert.deepEqual(lines[0]![0], { text: 'name', style: { bold: true } });
  });

  test('a width of 1 still terminates', () => {
    assert.equal(wrapSpans([{ text: 'ab 漢' }], 1).length >= 3, true);
  });
});

describe('sanitize', () => {
  test('control characters from other people cannot reach the terminal', () => {
    assert.equal(sanitize('a\x1b[2Jb\x07c'), 'a^[[2Jb^Gc');
    assert.equal(sanitize('x\u202ey'), 'xy', 'bidi override removed');
    assert.equal(sanitize('tab\there'), 'tab    here');
    assert.equal(sanitize('two\nlines'), 'two\nlines');
    assert.equal(sanitize('two\nlines', false), 'two lines');
    assert.equal(sanitize('c1\u009bhere'), 'c1\\u{9b}here');
  });
});

describe('key decoding', () => {
  test('text, control keys, arrows (CSI and SS3), modifiers, alt', () => {
    const d = new KeyDecoder();
    assert.deepEqual(d.feed('hi\r'), [{ kind: 'text', text: 'hi' }, { kind: 'key', name: 'enter' }]);
    assert.deepEqual(d.feed('\x1b[A\x1bOB\x1b[1;5D\x1b[5~\x7f\t\x1b[Z'), [
      { kind: 'key', name: 'up' },
      { kind: 'key', name: 'down' },
      { kind: 'key', name: 'left', ctrl: true },
      { kind: 'key', name: 'pageup' },
      { kind: 'key', name: 'backspace' },
      { kind: 'key', name: 'tab' },
      { kind: 'key', name: 'backtab', shift: true },
    ]);
    assert.deepEqual(d.feed('\x15\x1bb'), [{ kind: 'ctrl', char: 'u' }, { kind: 'alt', char: 'b' }]);
  });

  test('an escape sequence split across chunks waits for the rest; a lone ESC is Escape', () => {
    const d = new KeyDecoder();
    assert.deepEqual(d.feed('\x1b['), []);
    assert.deepEqual(d.feed('6~'), [{ kind: 'key', name: 'pagedown' }]);
    assert.deepEqual(d.feed('\x1b'), []);
    assert.deepEqual(d.flush(), [{ kind: 'key', name: 'escape' }]);
  });

  test('bracketed paste arrives as one paste, newlines included, even when split', () => {
    const d = new KeyDecoder();
    assert.deepEqual(d.feed('\x1b[200~line 1\nli'), []);
    assert.deepEqual(d.feed('ne 2\x1b[20'), []);
    assert.deepEqual(d.feed('1~x'), [{ kind: 'paste', text: 'line 1\nline 2' }, { kind: 'text', text: 'x' }]);
  });
});

describe('line editor', () => {
  test('insert, move, delete by character and word, kill and yank', () => {
    const e = new LineEditor();
    e.insert('hello world');
    e.wordLeft();
    e.insert('big ');
    assert.equal(e.text, 'hello big world');
    e.killWordBack();
    assert.equal(e.text, 'hello world');
    e.end();
    e.killWordBack();
    assert.equal(e.text, 'hello ');
    e.yank();
    assert.equal(e.text, 'hello world');
    e.home();
    e.deleteForward();
    assert.equal(e.text, 'ello world');
    e.right();
    e.killToEnd();
    assert.equal(e.text, 'e');
    e.killToStart();
    assert.equal(e.text, '');
  });

  test('emoji are one cursor step and two columns', () => {
    const e = new LineEditor();
    e.insert('a🎉b');
    e.left();
    e.left();
    assert.equal(e.beforeCursor, 'a');
    e.right();
    assert.equal(e.render(20).cursorCol, 3);
    e.backspace();
    assert.equal(e.text, 'ab');
  });

  test('history: up and down through sent lines, keeping the draft', () => {
    const e = new LineEditor();
    e.insert('one');
    e.submit();
    e.insert('two');
    e.submit();
    e.insert('draft');
    e.historyUp();
    assert.equal(e.text, 'two');
    e.historyUp();
    e.historyUp();
    assert.equal(e.text, 'one');
    e.historyDown();
    e.historyDown();
    assert.equal(e.text, 'draft');
  });

  test('long lines scroll horizontally to keep the cursor in view', () => {
    const e = new LineEditor();
    e.insert('x'.repeat(50));
    const r = e.render(20);
    assert.equal(r.scrolledLeft, true);
    assert.ok(stringWidth(r.text) <= 20);
    assert.equal(r.cursorCol, 19);
    e.home();
    assert.deepEqual({ col: e.render(20).cursorCol, left: e.render(20).scrolledLeft, right: e.render(20).scrolledRight }, { col: 0, left: false, right: true });
  });
});

describe('arguments', () => {
  test('commands, options anywhere, values inline or separate, -- ends options', () => {
    assert.deepEqual(parseArgs([]), { command: 'chat', implicit: true, args: [], options: {} });
    assert.deepEqual(parseArgs(['--server', 'h:1', 'send', 'general', 'hi', '--json']), {
      command: 'send',
      implicit: false,
      args: ['general', 'hi'],
      options: { server: 'h:1', json: true },
    });
    assert.deepEqual(parseArgs(['tail', '-n', '5', '--no-follow', '--token=abc']).options, { lines: '5', follow: false, token: 'abc' });
    assert.deepEqual(parseArgs(['send', '--', '--not-an-option', '-5']).args, ['--not-an-option', '-5']);
    assert.deepEqual(parseArgs(['send', '-5 degrees outside']).args, ['-5 degrees outside']);
    // A pasted message link opens the chat there.
    assert.deepEqual(parseArgs(['https://x/#general/m/7']), { command: 'chat', implicit: true, args: ['https://x/#general/m/7'], options: {} });
  });

  test('mistakes are usage errors', () => {
    assert.throws(() => parseArgs(['snd']), UsageError);
    assert.throws(() => parseArgs(['send', '--nope']), UsageError);
    assert.throws(() => parseArgs(['whoami', '--room', 'x']), /does not apply/);
    assert.throws(() => parseArgs(['send', '--server']), /needs a value/);
    assert.throws(() => parseArgs(['logout', 'extra']), /Too many arguments/);
  });
});

describe('invocation', () => {
  test('hints name the command the user ran: npx, npm run, or chatter on the PATH', () => {
    const npx = detectInvocation({ npm_lifecycle_event: 'npx', npm_command: 'exec', npm_lifecycle_script: "'chatter'" });
    assert.equal(command('login', {}, npx), 'npx chatter login');
    const run = detectInvocation({ npm_lifecycle_event: 'chat', npm_command: 'run', npm_lifecycle_script: 'node packages/cli/bin/chatter.js' });
    assert.equal(command('login', {}, run), 'npm run chat -- login');
    assert.equal(command('', {}, run), 'npm run chat');
    assert.equal(command('tail --json', { inPipe: true }, run), 'npm run -s chat -- tail --json', 'npm run prints a banner on stdout unless silent');
    assert.equal(command('login', {}, detectInvocation({})), 'chatter login');
    // `npm test` starts chatter from tests: its npm variables describe the test script, not chatter.
    const underNpmTest = detectInvocation({ npm_lifecycle_event: 'test', npm_command: 'test', npm_lifecycle_script: 'npm run build && node scripts/test.mjs' });
    assert.equal(command('login', {}, underNpmTest), 'chatter login');
  });
});

describe('config', () => {
  test('normalizes what people type as a server', () => {
    assert.equal(normalizeServerUrl('localhost:8000'), 'http://localhost:8000');
    assert.equal(normalizeServerUrl(' https://chat.example.com/ '), 'https://chat.example.com');
    assert.equal(normalizeServerUrl('ws://h:1/base/'), 'http://h:1/base');
    assert.throws(() => normalizeServerUrl('ftp://x'), /not an http/);
    assert.throws(() => normalizeServerUrl('http://u:p@h'), /credentials/);
    assert.throws(() => normalizeServerUrl(''), /empty/);
  });

  test('CHATTER_CONFIG_DIR, then XDG_CONFIG_HOME, then ~/.config', () => {
    assert.equal(configDir({ CHATTER_CONFIG_DIR: '/a', XDG_CONFIG_HOME: '/b', HOME: '/c' }), '/a');
    assert.equal(configDir({ XDG_CONFIG_HOME: '/b', HOME: '/c' }), '/b/chatter');
    assert.equal(configDir({ HOME: '/c' }), '/c/.config/chatter');
  });

  test('written 0600 in a 0700 directory and read back', () => {
    const tmp = tempConfigDir();
    try {
      const env = { CHATTER_CONFIG_DIR: tmp.dir };
      writeConfig({ server: 'http://x', sessions: { 'http://x': { username: 'a', token: 't', savedAt: 'now' } } }, env);
      assert.equal((statSync(tmp.dir).mode & 0o777).toString(8), '700');
      assert.equal((statSync(join(tmp.dir, 'config.json')).mode & 0o777).toString(8), '600');
      assert.equal(readConfig(env).sessions['http://x']?.token, 't');
    } finally {
      tmp.cleanup();
    }
  });
});

function fakeContext(users: string[], self = 'me'): CommandContext & { notices: string[]; sent: string[] } {
  const commands = new CommandRegistry();
  for (const c of [...builtinCommands(), ...roomCommands()]) commands.register(c);
  const notices: string[] = [];
  const sent: string[] = [];
  return {
    room: 'general',
    roomLabel: '#general',
    username: self,
    commands,
    notices,
    sent,
    send: (t) => sent.push(t),
    editMessage: (ref, t) => sent.push(`edit:${JSON.stringify(ref)}:${t}`),
    deleteMessage: (ref) => sent.push(`delete:${JSON.stringify(ref)}`),
    react: (e, ref) => sent.push(`react:${JSON.stringify(ref)}:${e}`),
    reactionsOf: (ref) => ('nth' in ref && ref.nth === 1 ? { author: 'bob', text: 'ship it', reactions: [{ emoji: '🎉', count: 4, names: ['you', 'bob'] }] } : null),
    linkTo: (ref) => ('nth' in ref && ref.nth === 1 ? { link: 'http://x/#general/m/7', author: 'bob', text: 'ship it' } : null),
    openLink: async (link) => void sent.push(`open:${link}`),
    toggleIds: () => true,
    roomList: () => [],
    switchRoom: () => false,
    browseRooms: async () => [],
    joinRoom: async (ref) => void sent.push(`join:${ref}`),
    leaveRoom: async () => void sent.push('leave'),
    openDm: async (names) => void sent.push(`dm:${names.join(',')}`),
    createRoom: async (name, visibility) => void sent.push(`create:${name}:${visibility}`),
    invite: async (names) => void sent.push(`invite:${names.join(',')}`),
    notifyLevel: () => ({ level: 'mentions', kind: 'channel' }),
    setNotify: async (level) => void sent.push(`notify:${level}`),
    notice: (t) => notices.push(t),
    online: () => users.map((username, id) => ({ id, username, avatarUrl: null })),
    onlineCount: () => users.length,
    knownUsers: () => users,
    loadOlder: async () => 0,
    scrollToTop: () => {},
    reconnect: () => {},
    quit: () => {},
  };
}

describe('commands and completion', () => {
  test('a registry of commands: run by name or alias, unknown ones explained', async () => {
    const ctx = fakeContext(['bob', 'me']);
    await ctx.commands.execute(ctx, '/me waves');
    assert.deepEqual(ctx.sent, ['/me waves']);
    await ctx.commands.execute(ctx, '/edit better words');
    await ctx.commands.execute(ctx, '/delete');
    await ctx.commands.execute(ctx, '/react 👍');
    assert.deepEqual(ctx.sent.slice(1), ['edit:null:better words', 'delete:null', 'react:null:👍']);
    // A leading number picks the nth newest message, #id a message by id.
    await ctx.commands.execute(ctx, '/edit 3 fixed it');
    await ctx.commands.execute(ctx, '/delete #42');
    await ctx.commands.execute(ctx, '/react 2 🎉');
    assert.deepEqual(ctx.sent.slice(4), ['edit:{"nth":3}:fixed it', 'delete:{"id":42}', 'react:{"nth":2}:🎉']);
    await ctx.commands.execute(ctx, '/delete 2 extra');
    assert.match(ctx.notices.at(-1)!, /Usage: \/delete/);
    await ctx.commands.execute(ctx, '/edit');
    assert.match(ctx.notices.at(-1)!, /Usage: \/edit/);
    await ctx.commands.execute(ctx, '/names');
    assert.match(ctx.notices.at(-1)!, /Online in #general \(2\): bob, me/);
    await ctx.commands.execute(ctx, '/frobnicate');
    assert.match(ctx.notices.at(-1)!, /Unknown command \/frobnicate/);
    await ctx.commands.execute(ctx, '/history abc');
    assert.match(ctx.notices.at(-1)!, /Usage: \/history/);
    // A later issue adds commands without touching the registry.
    ctx.commands.register({ name: 'topic', args: '<text>', summary: 'Set the topic.', run: (c, a) => c.notice(`topic ${a}`) });
    await ctx.commands.execute(ctx, '/topic random');
    assert.equal(ctx.notices.at(-1), 'topic random');
    assert.throws(() => ctx.commands.register({ name: 'who', summary: '', run: () => {} }), /already registered/);
  });

  test('room commands: /create [--private], /dm and /invite with several people, /join, /leave', async () => {
    const ctx = fakeContext(['bob']);
    await ctx.commands.execute(ctx, '/create Team Plans --private');
    await ctx.commands.execute(ctx, '/create #ops');
    await ctx.commands.execute(ctx, '/dm @bob, carol');
    await ctx.commands.execute(ctx, '/invite bob carol');
    await ctx.commands.execute(ctx, '/join dev');
    await ctx.commands.execute(ctx, '/leave');
    assert.deepEqual(ctx.sent, ['create:Team Plans:private', 'create:ops:public', 'dm:@bob,carol', 'invite:bob,carol', 'join:dev', 'leave']);
    await ctx.commands.execute(ctx, '/dm');
    assert.match(ctx.notices.at(-1)!, /Usage: \/dm/);
    assert.deepEqual(parseMessageRef('12 text'), { ref: { nth: 12 }, rest: 'text' });
    assert.deepEqual(parseMessageRef('#7'), { ref: { id: 7 }, rest: '' });
    assert.deepEqual(parseMessageRef('0 text'), { ref: null, rest: '0 text' });
    assert.deepEqual(parseMessageRef('3rd time'), { ref: null, rest: '3rd time' });
    assert.deepEqual([countBadge(0, 0), countBadge(3, 0), countBadge(3, 1), countBadge(1200, 0)], ['', '3', '3 @1', '999+']);
  });

  test('/rooms marks a muted room (notification level none, set on any device)', async () => {
    const ctx = fakeContext([]);
    const entry = { topic: '', kind: 'channel' as const, mentions: 0, current: false };
    ctx.roomList = () => [
      { ...entry, n: 1, id: 'general', label: '#general', unread: 2, current: true },
      { ...entry, n: 2, id: 'noisy', label: '#noisy', unread: 40, muted: true },
    ];
    await ctx.commands.execute(ctx, '/rooms');
    const lines = ctx.notices.at(-1)!.split('\n');
    assert.ok(lines.includes('> 1 #general  (2)'), lines.join('\n'));
    assert.ok(lines.includes('  2 #noisy  (40)  muted'), lines.join('\n'));
  });

  test('/notify shows and sets the level, /mute and /unmute; /rooms marks levels other than the default', async () => {
    const ctx = fakeContext([]);
    let level: NotifyLevel = 'mentions';
    ctx.notifyLevel = () => ({ level, kind: 'channel' });
    ctx.setNotify = async (l) => {
      ctx.sent.push(`notify:${l}`);
      level = l;
    };
    await ctx.commands.execute(ctx, '/notify');
    assert.equal(ctx.notices.at(-1), '#general notifies mentions of you only (the default). /notify all|mentions|none changes it.');
    await ctx.commands.execute(ctx, '/notify loud');
    assert.equal(ctx.notices.at(-1), 'Usage: /notify [all|mentions|none]');
    await ctx.commands.execute(ctx, '/notify ALL');
    assert.equal(ctx.notices.at(-1), '#general now notifies every message, on all your devices.');
    await ctx.commands.execute(ctx, '/notify all');
    assert.equal(ctx.notices.at(-1), '#general already notifies every message.');
    await ctx.commands.execute(ctx, '/unmute');
    assert.match(ctx.notices.at(-1)!, /is not muted/);
    await ctx.commands.execute(ctx, '/mute');
    await ctx.commands.execute(ctx, '/unmute');
    assert.deepEqual(ctx.sent, ['notify:all', 'notify:none', 'notify:mentions']);
    assert.deepEqual(complete(ctx, '/notify m')?.candidates, ['mentions']);

    const entry = { topic: '', mentions: 0, current: false, unread: 0 };
    ctx.roomList = () => [
      { ...entry, kind: 'channel', n: 1, id: 'a', label: '#loud', notify: 'all' },
      { ...entry, kind: 'channel', n: 2, id: 'b', label: '#quiet', notify: 'mentions' },
      { ...entry, kind: 'dm', n: 3, id: 'c', label: '@bob', notify: 'mentions' },
      { ...entry, kind: 'dm', n: 4, id: 'd', label: '@cy', notify: 'all' },
    ];
    await ctx.commands.execute(ctx, '/rooms');
    const lines = ctx.notices.at(-1)!.split('\n');
    for (const line of ['  1 #loud  notify: all', '  2 #quiet', '  3 @bob  notify: mentions', '  4 @cy']) assert.ok(lines.includes(line), `${line}\n${lines.join('\n')}`);
  });

  test('Tab completes commands, command arguments and user names', () => {
    const ctx = fakeContext(['bob', 'bobby', 'alice', 'me']);
    assert.deepEqual(complete(ctx, '/wh')?.candidates, ['/who']);
    assert.deepEqual(complete(ctx, '/h')?.candidates, ['/help', '/history']);
    assert.deepEqual(complete(ctx, '/help h')?.candidates, ['help', 'history']);
    const name = complete(ctx, 'al');
    assert.deepEqual([name?.candidates, name?.suffix], [['alice'], ': ']);
    assert.deepEqual(complete(ctx, 'hi @bo')?.candidates, ['@bob', '@bobby']);
    assert.equal(complete(ctx, 'hi @bo')?.suffix, ' ');
    assert.equal(complete(ctx, 'zz'), null);
    assert.equal(commonPrefix(['bob', 'bobby']), 'bob');
  });

  test('mentions of the user are detected by whole name', () => {
    assert.ok(mentions('hey alice, look', 'alice'));
    assert.ok(mentions('@alice!', 'alice'));
    assert.ok(!mentions('malice aforethought', 'alice'));
  });
});

describe('room log', () => {
  const me: SelfUser = { id: 9, username: 'me', avatarUrl: null, email: null, createdAt: '2024-01-01T00:00:00.000Z' };
  const msg = (seq: number, text = `m${seq}`): Message => ({
    id: seq,
    room: 'general',
    seq,
    author: { id: 1, username: 'a', avatarUrl: null },
    text,
    clientId: `c${seq}`,
    createdAt: `2024-01-01T00:00:${String(seq).padStart(2, '0')}.000Z`,
    version: seq,
    editedAt: null,
    deleted: false,
    mentions: [],
    reactions: [],
  });
  const event = (seq: number, kind: 'member_joined' | 'member_left', username: string): RoomEvent =>
    kind === 'member_joined'
      ? { kind, room: 'general', seq, at: '2024-01-01T00:00:06.500Z', actorId: null, user: { id: 100 + seq, username, avatarUrl: null }, role: 'member' }
      : { kind, room: 'general', seq, at: '2024-01-01T00:00:06.500Z', actorId: null, user: { id: 100 + seq, username, avatarUrl: null } };

  test("the store's timeline with the terminal's notices where they happened; presence is not in it", () => {
    const store = new ChatterStore();
    store.hello(me, [{ id: 'general', kind: 'channel', name: 'general', topic: '', visibility: 'public', archived: false, createdAt: '', lastSeq: 4, memberCount: 2, members: [], role: 'member', readSeq: 0, unread: 0, mentions: 0, notify: 'all', lastActivityAt: '' }]);
    store.applyPage('general', { messages: [msg(3), msg(4)], hasMore: false, lastSeq: 4 }, 'replace');
    const log = new RoomLog('general', () => me.id);
    log.addEvent('Connection lost.', 'info', '2024-01-01T00:00:05.000Z', 4);
    store.receive('general', [msg(5), msg(6)].map((m) => ({ kind: 'message_created' as const, room: 'general', seq: m.seq, at: m.createdAt, actorId: 1, message: m })));
    store.receive('general', [event(7, 'member_joined', 'bob'), event(8, 'member_joined', 'cy'), event(9, 'member_left', 'bob')]);
    store.setOnline('general', { id: 50, username: 'dee', avatarUrl: null }, true);
    const entries = log.entries(store.room('general'));
    assert.deepEqual(
      entries.map((e) => (e.kind === 'message' ? e.message.seq : e.text)),
      [3, 4, 'Connection lost.', 5, 6, 'bob and cy joined; bob left'],
    );
    assert.equal(log.entries(store.room('general')), entries, 'the same entries until something changes');
  });

  test('an edited message, a tombstone and an action, as the terminal draws them', () => {
    const line = (m: Message) => entryLines({ kind: 'message', id: m.id, message: m }, 200, undefined)[0]!.map((s) => s.text).join('');
    assert.match(line({ ...msg(1, 'fixed'), editedAt: '2024-01-01T00:10:00.000Z' }), /a: fixed \(edited \d\d:\d\d\)$/);
    assert.match(line({ ...msg(2, ''), deleted: true }), /a: message deleted$/);
    assert.match(line(msg(3, '/me waves')), /\* a waves$/);
    assert.match(line({ ...msg(4, 'nice'), reactions: [{ emoji: '👍', count: 2, users: [1, 2] }] }), /a: nice {2}👍 2$/);
  });
});

describe('screen', () => {
  test('rewrites only the rows that changed', () => {
    let written = '';
    const out = { columns: 20, rows: 3, write: (s: string) => (written += s) };
    const screen = new Screen(out, 'plain');
    screen.draw([[{ text: 'top' }], [{ text: 'middle' }], [{ text: 'bottom' }]], { row: 2, col: 0 });
    assert.ok(written.includes('top') && written.includes('middle') && written.includes('bottom'));
    written = '';
    screen.draw([[{ text: 'top' }], [{ text: 'changed' }], [{ text: 'bottom' }]], { row: 2, col: 0 });
    assert.ok(written.includes('changed'));
    assert.ok(!written.includes('top') && !written.includes('bottom'), 'unchanged rows are not rewritten');
  });
});

describe('emoji by shortcode', () => {
  test('an emoji, :code: or code (Slack\'s names), as the protocol wants it; anything else is null', () => {
    assert.equal(resolveEmoji(':thumbsup:'), '👍');
    assert.equal(resolveEmoji('+1'), '👍');
    assert.equal(resolveEmoji(':TADA:'), '🎉');
    assert.equal(resolveEmoji('heart'), '❤️');
    assert.equal(resolveEmoji('👍'), '👍');
    // A keyboard's U+FE0F where RGI has none, and none where RGI wants one.
    assert.equal(resolveEmoji('👍\uFE0F'), '👍');
    assert.equal(resolveEmoji('❤'), '❤️');
    for (const bad of ['', 'nope_not_an_emoji', ':', '::', 'xyzzy', '👍👍', '<script>']) assert.equal(resolveEmoji(bad), null, bad);
  });

  test('every shortcode names an emoji the protocol accepts; completion lists :codes: shortest first', () => {
    assert.ok(shortcodes().size > 1500);
    for (const [code, emoji] of shortcodes()) assert.ok(isEmoji(emoji), `:${code}: -> ${emoji}`);
    assert.deepEqual(completeShortcode(':tad'), [':tada:']);
    assert.equal(completeShortcode(':thumbs')[0], ':thumbsup:');
    assert.deepEqual(completeShortcode('tad'), [], 'only after a colon');
    assert.ok(completeShortcode(':').length <= 20);
  });

  test('/react resolves shortcodes before reacting; /who n lists who reacted', async () => {
    const ctx = fakeContext(['bob', 'me']);
    await ctx.commands.execute(ctx, '/react 2 :tada:');
    await ctx.commands.execute(ctx, '/react #7 +1');
    assert.deepEqual(ctx.sent, ['react:{"nth":2}:🎉', 'react:{"id":7}:👍']);
    await ctx.commands.execute(ctx, '/react 2 :nope:');
    assert.match(ctx.notices.at(-1)!, /Not an emoji or a known shortcode: :nope:/);
    assert.equal(ctx.sent.length, 2);
    await ctx.commands.execute(ctx, '/who 1');
    assert.equal(ctx.notices.at(-1), 'Reactions on bob\'s "ship it":\n  🎉 4  you, bob, 2 others');
    await ctx.commands.execute(ctx, '/who 3');
    assert.match(ctx.notices.at(-1)!, /fewer than 3 messages/);
    await ctx.commands.execute(ctx, '/who');
    assert.match(ctx.notices.at(-1)!, /Online in #general \(2\)/);
  });
});

describe('message links', () => {
  test("the web app's link: made from the server URL, read back the way the web app reads its address", () => {
    const link = messageLink('https://chat.example.org/team', 'k3q9x2mv7a4b', 1234);
    assert.equal(link, 'https://chat.example.org/team/#k3q9x2mv7a4b/m/1234');
    assert.deepEqual(parseMessageLink(link), { ok: true, server: 'https://chat.example.org/team', room: 'k3q9x2mv7a4b', messageId: 1234 });
    // The page named, a trailing slash or none: the same server, as the CLI normalizes its own.
    assert.deepEqual(parseMessageLink('http://127.0.0.1:8000/index.html#general/m/7'), { ok: true, server: 'http://127.0.0.1:8000', room: 'general', messageId: 7 });
    assert.deepEqual(parseMessageLink('  http://127.0.0.1:8000#general/m/7 '), { ok: true, server: 'http://127.0.0.1:8000', room: 'general', messageId: 7 });
    // Room ids are encoded as the web app encodes them.
    assert.equal(parseMessageLink(messageLink('http://x', 'a b/c', 1)).ok && (parseMessageLink(messageLink('http://x', 'a b/c', 1)) as { room: string }).room, 'a b/c');
    for (const bad of ['http://x/#general', 'http://x/#general/m/0', 'http://x/#general/m/-1', 'http://x/#general/m/1x', 'http://x/#/m/1', 'http://x/#general/m/99999999999999999', 'http://x/#%E0%A4%A/m/1', 'not a link']) {
      assert.equal(parseMessageLink(bad).ok, false, bad);
    }
    assert.equal(looksLikeLink('https://x/#a/m/1'), true);
    assert.equal(looksLikeLink('dev'), false);
    assert.equal(looksLikeLink('#dev'), false);
  });

  test('/link prints the link alone on its line; /open, /switch and /join take a link', async () => {
    const ctx = fakeContext(['bob', 'me']);
    await ctx.commands.execute(ctx, '/link');
    assert.equal(ctx.notices.at(-1), `Link to bob's "ship it":\nhttp://x/#general/m/7`);
    await ctx.commands.execute(ctx, '/link 4');
    assert.equal(ctx.notices.at(-1), 'There are fewer than 4 messages here.');
    await ctx.commands.execute(ctx, '/link 1 2');
    assert.match(ctx.notices.at(-1)!, /^Usage: \/link/);
    await ctx.commands.execute(ctx, '/open http://x/#general/m/7');
    await ctx.commands.execute(ctx, '/switch http://x/#general/m/8');
    await ctx.commands.execute(ctx, '/join https://x/#dev/m/9');
    await ctx.commands.execute(ctx, '/join dev');
    assert.deepEqual(ctx.sent, ['open:http://x/#general/m/7', 'open:http://x/#general/m/8', 'open:https://x/#dev/m/9', 'join:dev']);
  });
});
