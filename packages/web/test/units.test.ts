import { isEmoji, type Message, type MyRoom, type PublicUser } from '@chatter/protocol';
import type { EmojiMartData } from '@emoji-mart/data';
import { createRequire } from 'node:module';
import { describeReactors } from '../src/chat/emoji.js';
import { buildEmojiIndex, searchEmoji } from '../src/chat/emojiIndex.js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SizeIndex } from '../src/chat/sizeIndex.js';
import type { TimelineItem } from '@chatter/client';
import { buildTimeline, type OutgoingMessage } from '../src/chat/timeline.js';
import { linkify, trimmedLength } from '../src/linkify.js';
import { stripBidi } from '../src/text.js';
import { shouldNotify } from '../src/rooms/notify.js';

/* The web app's pure parts, without a browser: link detection, the timeline, the size index. */

describe('linkify', () => {
  const links = (text: string) => linkify(text).filter((s) => s.kind === 'link').map((s) => (s.kind === 'link' ? [s.text, s.href] : []));

  test('finds http(s) and www links and keeps the rest as text', () => {
    assert.deepEqual(linkify('see https://example.com/a?b=1 now'), [
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { kind: 'text', text: ' now' },
    ]);
    assert.deepEqual(links('go to www.example.org.'), [['www.example.org', 'https://www.example.org/']]);
  });

  test('trailing punctuation and unbalanced brackets stay outside the link', () => {
    assert.deepEqual(links('(https://example.com/x), then!'), [['https://example.com/x', 'https://example.com/x']]);
    assert.deepEqual(links('https://en.wikipedia.org/wiki/Set_(mathematics).'), [
      ['https://en.wikipedia.org/wiki/Set_(mathematics)', 'https://en.wikipedia.org/wiki/Set_(mathematics)'],
    ]);
  });

  test('never links other schemes, and markup never becomes part of a link', () => {
    for (const text of ['javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:x', 'file:///etc/passwd', 'http://nodot']) {
      assert.deepEqual(links(text), [], text);
    }
    assert.deepEqual(links('https://example.com/?q=<b>x</b>'), [['https://example.com/?q=', 'https://example.com/?q=']]);
    assert.deepEqual(links('<a href="https://evil.example">x</a>'), [['https://evil.example', 'https://evil.example/']]);
  });

  test('text survives exactly: joining the segments gives the input back', () => {
    for (const text of ['', 'plain', 'a https://x.io b https://y.io/(c) d.', '<img src=x onerror=alert(1)>', 'www.a.b,www.c.d']) {
      assert.equal(linkify(text).map((s) => s.text).join(''), text);
    }
  });
});

describe('links cannot pass for what they are not', () => {
  const links = (text: string) => linkify(text).filter((s) => s.kind === 'link').map((s) => (s.kind === 'link' ? [s.text, s.href] : []));

  test('the host is shown as the browser resolves it: punycode for look-alike letters', () => {
    // The first letter is Cyrillic а (U+0430), not Latin a.
    assert.deepEqual(links('log in at https://\u0430pple.com/account now'), [['https://xn--pple-43d.com/account', 'https://xn--pple-43d.com/account']]);
    assert.deepEqual(links('www.\u0430pple.com'), [['www.xn--pple-43d.com', 'https://www.xn--pple-43d.com/']]);
    assert.deepEqual(links('https://bücher.example/ü?q=ü'), [['https://xn--bcher-kva.example/ü?q=ü', 'https://xn--bcher-kva.example/%C3%BC?q=%C3%BC']]);
    // Percent-encoding and full-width dots are resolved too: what is shown is where the link goes.
    assert.deepEqual(links('https://%61pple.com/x'), [['https://apple.com/x', 'https://apple.com/x']]);
    assert.deepEqual(links('https://apple\u3002com'), [['https://apple.com', 'https://apple.com/']]);
    assert.deepEqual(links('HTTPS://EXAMPLE.COM:8443/Path'), [['HTTPS://example.com:8443/Path', 'https://example.com:8443/Path']]);
    // Everything around the link is left exactly as typed.
    const segments = linkify('a https://\u0430pple.com b');
    assert.deepEqual([segments[0], segments[2]], [{ kind: 'text', text: 'a ' }, { kind: 'text', text: ' b' }]);
  });

  test('a URL with credentials before the host is not a link', () => {
    for (const text of ['https://apple.com@evil.example/', 'https://user:pass@example.com', 'http://a:@example.com']) {
      assert.deepEqual(links(text), [], text);
    }
  });

  test('bidi overrides and isolates are removed, other text is not', () => {
    assert.equal(stripBidi('invoice\u202Efdp.exe'), 'invoicefdp.exe');
    assert.equal(stripBidi('\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069'), '');
    const rtl = 'שלום עולם \u200F مرحبا';
    assert.equal(stripBidi(rtl), rtl, 'right-to-left text and marks stay');
  });
});

describe('trimming a URL is linear', () => {
  /** The rule, stated the slow and obvious way: cut punctuation, or a closing bracket with no opener, until neither applies. */
  function reference(raw: string): number {
    let url = raw;
    const count = (ch: string) => [...url].filter((c) => c === ch).length;
    for (;;) {
      const c = url.at(-1);
      const open = c === ')' ? '(' : c === ']' ? '[' : c === '}' ? '{' : undefined;
      if (c !== undefined && '.,;:!?\'"'.includes(c)) url = url.slice(0, -1);
      else if (c !== undefined && open !== undefined && count(open) < count(c)) url = url.slice(0, -1);
      else return url.length;
    }
  }

  /** Reads of the input, counted through a proxy: the function sees a string that reports each character read. */
  function reads(raw: string): { length: number; reads: number } {
    let n = 0;
    const counted = new Proxy(new String(raw), {
      get(target, key) {
        if (typeof key === 'string' && /^\d+$/.test(key)) n++;
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as unknown as string;
    return { length: trimmedLength(counted), reads: n };
  }

  test('agrees with the obvious rule on every short mix of brackets and punctuation', () => {
    const alphabet = ['a', '(', ')', '[', ']', '{', '}', '.', '!'];
    let checked = 0;
    const walk = (s: string, depth: number) => {
      assert.equal(trimmedLength(s), reference(s), JSON.stringify(s));
      checked++;
      if (depth > 0) for (const c of alphabet) walk(s + c, depth - 1);
    };
    walk('https://x.io/', 5);
    assert.ok(checked > 60_000);
    assert.equal(trimmedLength('https://en.wikipedia.org/wiki/Set_(mathematics).'), 'https://en.wikipedia.org/wiki/Set_(mathematics)'.length);
  });

  test('adversarial inputs: each character is read at most twice', () => {
    const n = 50_000;
    const cases: [string, number][] = [
      [`https://x.io/${')'.repeat(n)}`, 13],
      [`https://x.io/${').'.repeat(n)}`, 13],
      [`https://x.io/${'('.repeat(n)}${')'.repeat(n + 5)}`, 13 + 2 * n],
      [`https://x.io/${'.'.repeat(n)}a`, 14 + n],
      [`https://x.io/${'.'.repeat(n)}`, 13],
      [`https://x.io/${'(]'.repeat(n)}`, 13 + 2 * n - 1],
    ];
    for (const [input, expected] of cases) {
      const { length, reads: r } = reads(input);
      assert.equal(length, expected, input.slice(0, 40));
      assert.ok(r <= 2 * input.length + 2, `${r} reads for ${input.length} characters`);
    }
    // And linkify as a whole, on the same inputs.
    assert.deepEqual(links(`see https://x.io/${')'.repeat(n)}`), [['https://x.io/', 'https://x.io/']]);
  });

  const links = (text: string) => linkify(text).filter((s) => s.kind === 'link').map((s) => (s.kind === 'link' ? [s.text, s.href] : []));
});

describe('buildTimeline', () => {
  const me: PublicUser = { id: 1, username: 'me', avatarUrl: null };
  const bob: PublicUser = { id: 2, username: 'bob', avatarUrl: null };
  let seq = 0;
  const msg = (author: PublicUser, at: string, text = 'hi'): Message => ({
    id: ++seq,
    room: 'general',
    seq,
    author,
    text,
    clientId: `c${seq}`,
    createdAt: at,
    version: seq,
    editedAt: null,
    deleted: false,
    mentions: [],
    reactions: [],
  });
  const items = (messages: Message[]): TimelineItem[] => messages.map((m) => ({ kind: 'message', key: `m:${m.id}`, message: m }));
  const kinds = (rows: ReturnType<typeof buildTimeline>) =>
    rows.map((r) => (r.type === 'message' ? `${r.author.username}${r.groupStart ? '^' : ''}${r.groupEnd ? '$' : ''}:${r.state}` : r.type === 'membership' ? `sys:${r.text}` : r.type));

  test('day separators, grouping by author within five minutes, membership lines between messages', () => {
    seq = 0;
    const messages = [
      msg(bob, '2024-03-01T10:00:00'),
      msg(bob, '2024-03-01T10:01:00'),
      msg(bob, '2024-03-01T10:09:00'), // > 5 min later: a new group
      msg(me, '2024-03-01T10:10:00'),
      msg(me, '2024-03-02T09:00:00'), // next day
    ];
    const carol: PublicUser = { id: 3, username: 'carol', avatarUrl: null };
    const joined = (user: PublicUser, n: number) => ({ kind: 'member_joined' as const, room: 'general', seq: 100 + n, at: '2024-03-01T10:09:30', actorId: user.id, user, role: 'member' as const });
    const timeline = items(messages);
    timeline.splice(3, 0, { kind: 'membership', key: 'e:100', events: [joined(carol, 0), joined(me, 1)] });
    const rows = buildTimeline({ me, items: timeline, outgoing: [], hasMore: false, loadingOlder: false, now: new Date('2024-03-02T12:00:00') });
    assert.deepEqual(kinds(rows), ['start', 'day', 'bob^:sent', 'bob$:sent', 'bob^$:sent', 'sys:carol and You joined', 'me^$:sent', 'day', 'me^$:sent']);
    const days = rows.filter((r) => r.type === 'day').map((r) => (r.type === 'day' ? r.label : ''));
    assert.equal(days[1], 'Today');
    assert.equal(days[0], 'Yesterday');
    assert.equal(rows[0]!.type === 'start' && rows[0]!.state, 'beginning');
  });

  test('my unacknowledged messages come last, and one the server has stored is shown once', () => {
    seq = 0;
    const stored = msg(me, '2024-03-01T10:00:00', 'stored');
    const outgoing: OutgoingMessage[] = [
      { clientId: stored.clientId, text: 'stored', state: 'sending', createdAt: '2024-03-01T10:00:00' },
      { clientId: 'p1', text: 'waiting', state: 'pending', createdAt: '2024-03-01T10:00:05' },
      { clientId: 'p2', text: 'refused', state: 'failed', createdAt: '2024-03-01T10:00:06', error: 'Too long.' },
    ];
    const rows = buildTimeline({ me, items: items([stored]), outgoing, hasMore: true, loadingOlder: false, now: new Date('2024-03-01T12:00:00') });
    assert.deepEqual(kinds(rows), ['start', 'day', 'me^:sent', 'me:pending', 'me$:failed']);
    const keys = rows.map((r) => r.key);
    assert.equal(new Set(keys).size, keys.length, 'keys are unique');
    // The pending copy and the stored message share a key, so the row is not remounted on ack.
    const pendingOnly = buildTimeline({ me, items: [], outgoing: outgoing.slice(0, 1), hasMore: true, loadingOlder: false });
    assert.equal(pendingOnly.at(-1)!.key, rows[2]!.key);
    assert.equal(rows[0]!.type === 'start' && rows[0]!.state, 'more');
  });

  test('an action, an edit and a tombstone: "/me" is an action, edits keep their time, deletes leave a mark', () => {
    seq = 0;
    const action = msg(bob, '2024-03-01T10:00:00', '/me waves');
    const edited = { ...msg(bob, '2024-03-01T10:00:10', 'fixed'), editedAt: '2024-03-01T10:05:00', version: 9 };
    const gone = { ...msg(bob, '2024-03-01T10:00:20', ''), deleted: true };
    const rows = buildTimeline({ me, items: items([action, edited, gone]), outgoing: [], hasMore: false, loadingOlder: false });
    const shown = rows.flatMap((r) => (r.type === 'message' ? [[r.text, r.action, r.editedAt, r.deleted, r.groupStart]] : []));
    assert.deepEqual(shown, [
      ['waves', true, null, false, true],
      ['fixed', false, '2024-03-01T10:05:00', false, true],
      ['', false, null, true, true],
    ]);
  });
});

describe('SizeIndex', () => {
  test('offsets and lookups match a plain prefix sum through random updates', () => {
    let state = 12345;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 100; trial++) {
      const n = Math.floor(random() * 60);
      const sizes = Array.from({ length: n }, () => Math.floor(random() * 6) * 10);
      const index = new SizeIndex(sizes);
      for (let k = 0; k < 30 && n > 0; k++) {
        const i = Math.floor(random() * n);
        sizes[i] = Math.floor(random() * 6) * 10;
        index.set(i, sizes[i]!);
      }
      const prefix = [0];
      for (const s of sizes) prefix.push(prefix.at(-1)! + s);
      for (let i = 0; i <= n; i++) assert.equal(index.offset(i), prefix[i]);
      assert.equal(index.total, prefix[n]);
      for (let y = -5; n > 0 && y < prefix[n]! + 20; y += 3) {
        let expected = 0;
        for (let i = 0; i < n; i++) if (prefix[i]! <= y) expected = i;
        assert.equal(index.indexAt(y), expected, `y=${y}`);
      }
    }
  });

  test('10,000 rows: a lookup or an update costs microseconds', () => {
    const index = new SizeIndex(new Float64Array(10_000).fill(60));
    // This process's CPU time, not the wall clock's: on a loaded machine the wall clock also counts
    // the time other processes had the CPU.
    const t0 = process.cpuUsage();
    for (let i = 0; i < 10_000; i++) {
      index.set(i, 40 + (i % 7));
      index.indexAt(i * 50);
    }
    const { user, system } = process.cpuUsage(t0);
    assert.ok(user + system < 200_000, `${Math.round((user + system) / 1000)} ms of CPU`);
    assert.equal(index.indexAt(0), 0);
    assert.equal(index.indexAt(index.total + 100), 9_999);
  });
});

describe('reactions', () => {
  const names: Record<number, string> = { 1: 'me', 2: 'Ana', 3: 'Bo', 4: 'Cy' };
  const nameOf = (id: number) => names[id];
  test('who reacted, as a sentence: "You" first, two names then "others"; unknown and unlisted reactors count as others', () => {
    assert.equal(describeReactors({ emoji: '👍', count: 1, users: [2] }, 1, nameOf), 'Ana reacted with 👍');
    assert.equal(describeReactors({ emoji: '👍', count: 2, users: [2, 1] }, 1, nameOf), 'You and Ana reacted with 👍');
    assert.equal(describeReactors({ emoji: '👍', count: 3, users: [2, 3, 4] }, 1, nameOf), 'Ana, Bo and Cy reacted with 👍');
    assert.equal(describeReactors({ emoji: '👍', count: 5, users: [2, 3, 4, 1, 9] }, 1, nameOf), 'You, Ana and 3 others reacted with 👍');
    // The message lists at most 100 reactors; the count is exact.
    assert.equal(describeReactors({ emoji: '🎉', count: 250, users: [3] }, 1, nameOf), 'Bo and 249 others reacted with 🎉');
    assert.equal(describeReactors({ emoji: '🎉', count: 2, users: [8, 9] }, 1, nameOf), '2 people reacted with 🎉');
    assert.equal(describeReactors({ emoji: '🎉', count: 2, users: [3, 9] }, 1, nameOf), 'Bo and 1 other reacted with 🎉');
  });

  test('the picker offers only what the protocol accepts; search by shortcode, name and keyword', () => {
    const index = buildEmojiIndex(createRequire(import.meta.url)('@emoji-mart/data/sets/15/native.json') as EmojiMartData);
    assert.ok(index.all.length > 1500);
    for (const e of index.all) {
      assert.ok(isEmoji(e.emoji), `${e.name}: ${e.emoji}`);
      for (const s of e.skins ?? []) assert.ok(isEmoji(s), `${e.name}: ${s}`);
    }
    assert.equal(searchEmoji(index, ':tada:')[0]!.emoji, '🎉');
    assert.equal(searchEmoji(index, '+1')[0]!.emoji, '👍');
    assert.equal(searchEmoji(index, 'red heart')[0]!.emoji, '❤️');
    assert.ok(searchEmoji(index, 'party').some((e) => e.emoji === '🎉'), 'by keyword');
    assert.deepEqual(searchEmoji(index, 'zzzqqq'), []);
    assert.deepEqual(searchEmoji(index, '   '), []);
  });
});

describe('notifications by level', () => {
  const me: PublicUser = { id: 1, username: 'me', avatarUrl: null };
  const ana: PublicUser = { id: 2, username: 'ana', avatarUrl: null };
  const now = Date.parse('2026-01-01T10:00:30Z');
  const msg = (over: Partial<Message> = {}): Message => ({
    id: 1, room: 'r', seq: 1, author: ana, text: 'hi', clientId: 'c', createdAt: '2026-01-01T10:00:00Z', version: 1, editedAt: null, deleted: false, mentions: [], reactions: [], ...over,
  });
  const room = (kind: MyRoom['kind'], notify: MyRoom['notify']): MyRoom => ({
    id: 'r', kind, name: 'r', topic: '', visibility: 'public', archived: false, createdAt: '', lastSeq: 1, memberCount: 2, members: [],
    role: 'member', readSeq: 0, unread: 1, mentions: 0, notify, lastActivityAt: '',
  });

  test('all: every message, in a channel as in a DM; mentions: mentions only; none: nothing; and only while hidden', () => {
    const plain = msg();
    const mention = msg({ mentions: [me.id] });
    const cases: [MyRoom['kind'], MyRoom['notify'], boolean, boolean][] = [
      ['channel', 'all', true, true],
      ['dm', 'all', true, true],
      ['channel', 'mentions', false, true],
      ['dm', 'mentions', false, true],
      ['channel', 'none', false, false],
      ['dm', 'none', false, false],
    ];
    for (const [kind, level, forPlain, forMention] of cases) {
      assert.equal(shouldNotify(plain, room(kind, level), me.id, true, now), forPlain, `${kind} ${level}: a plain message`);
      assert.equal(shouldNotify(mention, room(kind, level), me.id, true, now), forMention, `${kind} ${level}: a mention`);
      assert.equal(shouldNotify(mention, room(kind, level), me.id, false, now), false, `${kind} ${level}: the tab is visible`);
    }
    assert.equal(shouldNotify(msg({ author: me }), room('dm', 'all'), me.id, true, now), false, 'my own');
    assert.equal(shouldNotify(msg({ createdAt: '2026-01-01T09:00:00Z' }), room('dm', 'all'), me.id, true, now), false, 'an old one, replayed');
  });
});
