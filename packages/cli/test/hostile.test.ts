import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { Screen } from '../src/term/screen.js';
import { entryLines } from '../src/tui/layout.js';
import { RoomLog } from '../src/tui/room-log.js';
import { ChatterStore } from '@chatter/client';
import { runCli, tempConfigDir } from './helpers.js';

/*
 * What a server says is quoted to the user: error messages, refusal reasons, user names. A server
 * that is hostile, or a proxy in front of one, must not be able to drive the user's terminal
 * through them (clear the screen, retitle the window, reorder text with bidi overrides). The fake
 * HTTP server below stands in for exactly that: something outside the CLI's control.
 */

/** Escape sequences (CSI, OSC title), BEL, a C1 CSI and a bidi override. */
const HOSTILE = 'evil\x1b[2J\x1b]0;pwned\x07\u009b31m\u202etxt';

/** No ESC, BEL, C1 control or bidi override anywhere. */
function assertPrintable(text: string, where: string): void {
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/, `${where} must be printable: ${JSON.stringify(text)}`);
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const health = { status: 'ok', version: 'fake', protocol: 1, uptimeSeconds: 1 };

describe('server-provided text is made printable before the CLI prints it', () => {
  let fake: Server;
  let url: string;
  let handler: Handler = (_req, res) => json(res, 404, {});
  const config = tempConfigDir();

  before(async () => {
    fake = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => fake.close(() => resolve()));
    config.cleanup();
  });
  afterEach(() => {
    handler = (_req, res) => json(res, 404, {});
  });

  test('a REST error message (whoami), one line on stderr, escapes shown as text', async () => {
    handler = (_req, res) => json(res, 500, { error: { code: 'internal', message: `Oops ${HOSTILE}\nchatter: a forged second line` } });
    const r = await runCli(['whoami'], { env: { CHATTER_CONFIG_DIR: config.dir, CHATTER_SERVER: url, CHATTER_TOKEN: 'tok' } });
    assert.equal(r.code, 1);
    assertPrintable(r.stderr.replace(/\n$/, ''), 'stderr');
    assert.match(r.stderr, /^chatter: Oops evil\^\[\[2J\^\[\]0;pwned\^G\\u\{9b\}31mtxt chatter: a forged second line\n$/);
  });

  test('field errors of a refused sign-in, and the name of a signed-in user', async () => {
    handler = (req, res) => {
      if (req.url === '/api/health') return json(res, 200, health);
      return json(res, 400, { error: { code: 'validation_failed', message: 'Bad input.', details: { fields: { username: `no ${HOSTILE}` } } } });
    };
    const refused = await runCli(['login', '-u', 'alice'], { env: { CHATTER_CONFIG_DIR: config.dir, CHATTER_SERVER: url }, input: 'secret password\n' });
    assert.equal(refused.code, 1);
    assertPrintable(refused.stderr.replace(/\n$/, ''), 'stderr');
    assert.match(refused.stderr, /username: no evil\^\[\[2J/);

    handler = (req, res) => {
      if (req.url === '/api/health') return json(res, 200, health);
      if (req.url === '/api/login') {
        return json(res, 200, { user: { id: 1, username: `m${HOSTILE}`, email: null, avatarUrl: null, createdAt: new Date().toISOString() }, token: 't', expiresAt: new Date(Date.now() + 3600_000).toISOString() });
      }
      return json(res, 404, {});
    };
    const signedIn = await runCli(['login', '-u', 'alice'], { env: { CHATTER_CONFIG_DIR: config.dir, CHATTER_SERVER: url }, input: 'secret password\n' });
    assert.equal(signedIn.code, 0, signedIn.stderr);
    assertPrintable(signedIn.stdout.replace(/\n/g, ' '), 'stdout');
    assert.match(signedIn.stdout, /as mevil\^\[\[2J/);
  });
});

describe('the full-screen chat draws nothing unprintable', () => {
  test('notices quoting the server (an error frame, a join) and author names are printable before wrapping', () => {
    const store = new ChatterStore();
    const at = new Date().toISOString();
    store.hello({ id: 1, username: 'me', avatarUrl: null, email: null, createdAt: at }, [
      { id: 'general', kind: 'channel', name: 'general', topic: '', visibility: 'public', archived: false, createdAt: at, lastSeq: 0, memberCount: 1, members: [], role: 'member', readSeq: 0, unread: 0, mentions: 0, notify: 'all', lastActivityAt: at },
    ]);
    const message = { id: 1, room: 'general', seq: 1, author: { id: 2, username: `n${HOSTILE}`, avatarUrl: null }, text: 'hi', clientId: 'c', createdAt: at, version: 1, editedAt: at, deleted: false, mentions: [], reactions: [{ emoji: `${HOSTILE}`, count: 1, users: [2] }] };
    store.receive('general', [
      { kind: 'message_created', room: 'general', seq: 1, at, actorId: 2, message },
      { kind: 'member_joined', room: 'general', seq: 2, at, actorId: 3, user: { id: 3, username: `x${HOSTILE}`, avatarUrl: null }, role: 'member' },
    ]);
    const log = new RoomLog('general');
    log.addEvent(`Server: ${HOSTILE}`, 'error');
    const entries = log.entries(store.room('general'));
    assert.equal(entries.length, 3);
    for (const entry of entries) {
      for (const line of entryLines(entry, 200, undefined)) for (const span of line) assertPrintable(span.text, `a span of ${entry.kind}`);
    }
  });

  test('the screen writes span text as printable characters, whatever a row was built from', () => {
    let written = '';
    const screen = new Screen({ columns: 80, rows: 2, write: (s: string) => (written += s) }, 'color');
    screen.draw([[{ text: `top ${HOSTILE}`, style: { bold: true } }], [{ text: 'bottom' }]], { row: 1, col: 0 });
    assert.ok(written.includes('top evil^[[2J^[]0;pwned^G'), written);
    assert.ok(!written.includes('\x1b]0;'), 'no title change');
    assert.ok(!written.includes('\x07') && !written.includes('\u009b') && !written.includes('\u202e'));
  });
});
