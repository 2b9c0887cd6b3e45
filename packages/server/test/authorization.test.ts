import { DEFAULT_ROOM, ERRORS, type ErrorCode, type ServerFrame } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { call } from './http-helpers.js';
import { connect, uniqueName, type TestSocket } from './wsclient.js';

/*
 * The authorization matrix (issue 11, section 3): every action, over REST and WebSocket, by every
 * role, in a public room, a private room and a DM, with the outcome each cell must have. One table
 * states the rules; a fresh room per action keeps the cells independent.
 */

type Role = 'owner' | 'admin' | 'member' | 'outsider' | 'removed';
type Kind = 'public' | 'private' | 'dm';
/** `ok`, or the error code the action must be refused with. */
type Outcome = 'ok' | ErrorCode;

interface Fixture {
  room: string;
  kind: Kind;
  /** A message by each of owner, admin (channels) and member, for the actions that need one. */
  ownerMessage: number;
  adminMessage: number;
  memberMessage: number;
  /** A member others may try to remove. */
  victim: TestUser;
  /** Someone in no room but general, whom others may try to invite. */
  guest: TestUser;
}

let server: TestServer;
const users = {} as Record<Role, TestUser>;
const sockets = {} as Record<Role, TestSocket>;
let n = 0;

const api = (user: TestUser, method: string, path: string, json?: unknown) => call(server.url, method, path, { token: user.token, json });

/** A REST answer as an outcome: 2xx is `ok`, else the error code (whose status must be the catalogue's). */
async function rest(user: TestUser, method: string, path: string, json?: unknown): Promise<Outcome> {
  const res = await api(user, method, path, json);
  if (res.status >= 200 && res.status < 300) return 'ok';
  const code = res.body?.error?.code as ErrorCode;
  assert.equal(res.status, ERRORS[code]?.status, `${method} ${path}: ${res.status} ${res.text}`);
  return code;
}

/** The first frame after index `start` that `match` accepts. */
function arrival(s: TestSocket, start: number, match: (f: ServerFrame) => boolean): Promise<ServerFrame> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = s.frames.slice(start).find(match);
      if (!found) return;
      s.ws.off('message', check);
      clearTimeout(timer);
      resolve(found);
    };
    const timer = setTimeout(() => {
      s.ws.off('message', check);
      reject(new Error(`no answer; got ${s.frames.slice(start).map((f) => f.type).join(',')}`));
    }, 5000);
    s.ws.on('message', check);
    check();
  });
}

/** Send `body` as `role` and wait for the frame `ok` accepts, or an error `refused` accepts. */
async function ask(role: Role, body: Record<string, unknown>, ok: (f: ServerFrame) => boolean, refused: (e: Extract<ServerFrame, { type: 'error' }>) => boolean): Promise<Outcome> {
  const s = sockets[role];
  const start = s.frames.length;
  s.send(body);
  const answer = await arrival(s, start, (f) => ok(f) || (f.type === 'error' && refused(f)));
  return answer.type === 'error' ? (answer.code as ErrorCode) : 'ok';
}

/** A change frame: its ack, or the error carrying its clientId. */
function frame(role: Role, body: Record<string, unknown>): Promise<Outcome> {
  const clientId = `authz-${++n}`;
  return ask(role, { ...body, clientId }, (f) => f.type === 'ack' && f.clientId === clientId, (e) => e.ref === clientId);
}

/** A request answered with a frame of the same `ref`. */
function request(role: Role, body: Record<string, unknown>, type: 'history' | 'events'): Promise<Outcome> {
  const ref = `authz-${++n}`;
  return ask(role, { ...body, ref }, (f) => f.type === type && f.ref === ref, (e) => e.ref === ref);
}

/** Whether the role's socket receives the room's live events (a message in general is the marker). */
async function receives(f: Fixture, role: Role): Promise<Outcome> {
  const text = `live-${++n}`;
  const poster = f.kind === 'dm' ? 'member' : 'owner';
  assert.equal(await frame(poster, { type: 'send', room: f.room, text }), 'ok');
  const marker = `marker-${n}`;
  assert.equal(await frame('owner', { type: 'send', room: DEFAULT_ROOM, text: marker }), 'ok');
  await sockets[role].nextMessage((m) => m.text === marker);
  return sockets[role].messages().some((m) => m.text === text) ? 'ok' : 'not_a_member';
}

/** Whether `resume` replays the room to the role (a refused room is named in one room_not_found or not_a_member error). */
function resumes(f: Fixture, role: Role): Promise<Outcome> {
  return ask(
    role,
    { type: 'resume', rooms: { [f.room]: 0 } },
    (x) => x.type === 'events' && x.room === f.room && x.reason === 'resume',
    (e) => (e.details?.rooms as string[] | undefined)?.includes(f.room) === true,
  );
}

type Action = (f: Fixture, role: Role) => Promise<Outcome>;

/** The message a role acts on as "its own": members their own, others the member's (they have none). */
const own = (f: Fixture, role: Role) => (role === 'owner' ? f.ownerMessage : role === 'admin' ? f.adminMessage : f.memberMessage);
/** Someone else's message: the owner's for the member (and for the DM's member), else the member's. */
const others = (f: Fixture, role: Role) => (role === 'member' ? f.ownerMessage : f.memberMessage);
const enc = encodeURIComponent;

const ACTIONS: Record<string, Action> = {
  'REST room info': (f, r) => rest(users[r], 'GET', `/api/rooms/${f.room}`),
  'REST history': (f, r) => rest(users[r], 'GET', `/api/rooms/${f.room}/messages`),
  'REST members': (f, r) => rest(users[r], 'GET', `/api/rooms/${f.room}/members`),
  'REST join': (f, r) => rest(users[r], 'POST', `/api/rooms/${f.room}/join`),
  'REST leave': (f, r) => rest(users[r], 'POST', `/api/rooms/${f.room}/leave`),
  'REST rename': (f, r) => rest(users[r], 'PATCH', `/api/rooms/${f.room}`, { topic: `topic by ${r}` }),
  'REST archive': (f, r) => rest(users[r], 'PATCH', `/api/rooms/${f.room}`, { archived: false }),
  'REST invite': (f, r) => rest(users[r], 'POST', `/api/rooms/${f.room}/members`, { userId: f.guest.user.id }),
  'REST set role': (f, r) => rest(users[r], 'PATCH', `/api/rooms/${f.room}/members/${f.victim.user.id}`, { role: 'admin' }),
  'REST remove member': (f, r) => rest(users[r], 'DELETE', `/api/rooms/${f.room}/members/${f.victim.user.id}`),
  'REST notify': (f, r) => rest(users[r], 'PATCH', `/api/rooms/${f.room}/membership`, { notify: 'mentions' }),
  'REST read': (f, r) => rest(users[r], 'POST', `/api/rooms/${f.room}/read`, { seq: 1 }),
  'REST edit own': (f, r) => rest(users[r], 'PATCH', `/api/rooms/${f.room}/messages/${own(f, r)}`, { text: `edited by ${r}` }),
  'REST edit other\'s': (f, r) => rest(users[r], 'PATCH', `/api/rooms/${f.room}/messages/${others(f, r)}`, { text: `edited by ${r}` }),
  'REST delete other\'s': (f, r) => rest(users[r], 'DELETE', `/api/rooms/${f.room}/messages/${others(f, r)}`),
  'REST react': (f, r) => rest(users[r], 'PUT', `/api/rooms/${f.room}/messages/${f.memberMessage}/reactions/${enc('👍')}`),
  'WS send': (f, r) => frame(r, { type: 'send', room: f.room, text: `hello from ${r}` }),
  'WS edit own': (f, r) => frame(r, { type: 'edit', room: f.room, messageId: own(f, r), text: `edited by ${r}` }),
  'WS edit other\'s': (f, r) => frame(r, { type: 'edit', room: f.room, messageId: others(f, r), text: `edited by ${r}` }),
  'WS delete own': (f, r) => frame(r, { type: 'delete', room: f.room, messageId: own(f, r) }),
  'WS delete other\'s': (f, r) => frame(r, { type: 'delete', room: f.room, messageId: others(f, r) }),
  'WS react': (f, r) => frame(r, { type: 'react', room: f.room, messageId: f.memberMessage, emoji: '🎉', on: true }),
  // Typing and read answer nothing of their own: the typer's socket (in the room) gets the notice,
  // the reader's sockets `read_state`; a refusal is an error without a ref.
  'WS typing': (f, r) =>
    ask(r, { type: 'typing', room: f.room }, (x) => x.type === 'typing' && x.room === f.room && x.user.id === users[r].user.id, (e) => e.ref === undefined),
  'WS read': (f, r) => ask(r, { type: 'read', room: f.room, seq: 1 }, (x) => x.type === 'read_state' && x.room === f.room, (e) => e.ref === undefined),
  'WS history': (f, r) => request(r, { type: 'history', room: f.room }, 'history'),
  'WS events': (f, r) => request(r, { type: 'events', room: f.room, after: 0 }, 'events'),
  'WS resume': resumes,
  'WS live events': receives,
};

/*
 * The rules. Columns: owner, admin, member, outsider (never in the room), removed (was a member).
 * A DM has only members and outsiders. `ok` = allowed; otherwise the refusal's code. An action
 * that changes nothing (joining twice, leaving a room one is not in) is `ok`: it was allowed.
 */
const NF = 'room_not_found' as const;
const NM = 'not_a_member' as const;
const FB = 'forbidden' as const;
const ok = 'ok' as const;
type Row = [Outcome, Outcome, Outcome, Outcome, Outcome];
/** Public and private rows are the same for members; outsiders and removed members differ. */
function channel(members: [Outcome, Outcome, Outcome], publicOutsiders: Outcome): Record<'public' | 'private', Row> {
  return { public: [...members, publicOutsiders, publicOutsiders], private: [...members, NF, NF] };
}

const RULES: Record<string, { public: Row; private: Row; dm: [Outcome, Outcome] }> = {
  'REST room info': { ...channel([ok, ok, ok], ok), dm: [ok, NF] },
  'REST history': { ...channel([ok, ok, ok], ok), dm: [ok, NF] },
  'REST members': { ...channel([ok, ok, ok], ok), dm: [ok, NF] },
  // Joining a room one is in changes nothing; a public room is open to all, a private one invisible.
  'REST join': { ...channel([ok, ok, ok], ok), dm: [ok, NF] },
  // Leaving a room one is not in changes nothing; a DM cannot be left.
  'REST leave': { ...channel([ok, ok, ok], ok), dm: [FB, NF] },
  'REST rename': { ...channel([ok, ok, FB], NM), dm: [FB, NF] },
  'REST archive': { ...channel([ok, ok, FB], NM), dm: [FB, NF] },
  'REST invite': { ...channel([ok, ok, ok], NM), dm: [FB, NF] },
  'REST set role': { ...channel([ok, FB, FB], NM), dm: [FB, NF] },
  'REST remove member': { ...channel([ok, ok, FB], NM), dm: [FB, NF] },
  'REST notify': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'REST read': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'REST edit own': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'REST edit other\'s': { ...channel([FB, FB, FB], NM), dm: [FB, NF] },
  'REST delete other\'s': { ...channel([ok, ok, FB], NM), dm: [FB, NF] },
  'REST react': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'WS send': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'WS edit own': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'WS edit other\'s': { ...channel([FB, FB, FB], NM), dm: [FB, NF] },
  'WS delete own': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'WS delete other\'s': { ...channel([ok, ok, FB], NM), dm: [FB, NF] },
  'WS react': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'WS typing': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'WS read': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'WS history': { ...channel([ok, ok, ok], ok), dm: [ok, NF] },
  'WS events': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  'WS resume': { ...channel([ok, ok, ok], NM), dm: [ok, NF] },
  // Not receiving is not an error frame: `not_a_member` here means "nothing of the room arrived".
  'WS live events': { public: [ok, ok, ok, NM, NM], private: [ok, ok, ok, NM, NM], dm: [ok, NM] },
};

async function fixture(kind: Kind): Promise<Fixture> {
  const victim = await server.register(uniqueName('victim'));
  const guest = await server.register(uniqueName('guest'));
  if (kind === 'dm') {
    // A DM has members only (the owner and admin users are plain members of it, and nobody is removed).
    const res = await api(users.member, 'POST', '/api/dms', { userIds: [users.owner.user.id, victim.user.id] });
    const room = res.body.room.id as string;
    const memberMessage = await say('member', room);
    const ownerMessage = await say('owner', room);
    return { room, kind, ownerMessage, adminMessage: memberMessage, memberMessage, victim, guest };
  }
  const res = await api(users.owner, 'POST', '/api/rooms', { name: uniqueName('authz'), visibility: kind });
  const room = res.body.room.id as string;
  for (const u of [users.admin, users.member, users.removed, victim]) assert.equal((await api(users.owner, 'POST', `/api/rooms/${room}/members`, { userId: u.user.id })).status, 200);
  assert.equal((await api(users.owner, 'PATCH', `/api/rooms/${room}/members/${users.admin.user.id}`, { role: 'admin' })).status, 200);
  assert.equal((await api(users.owner, 'DELETE', `/api/rooms/${room}/members/${users.removed.user.id}`)).status, 200);
  const ownerMessage = await say('owner', room);
  const adminMessage = await say('admin', room);
  const memberMessage = await say('member', room);
  return { room, kind, ownerMessage, adminMessage, memberMessage, victim, guest };
}

async function say(role: Role, room: string): Promise<number> {
  const clientId = `authz-say-${++n}`;
  sockets[role].send({ type: 'send', room, clientId, text: `by ${role}` });
  const ack = await sockets[role].next('ack', (a) => a.clientId === clientId);
  return ack.messageId!;
}

before(async () => {
  server = await startTestServer({
    messagesPerSecond: 10_000,
    messageBurst: 10_000,
    framesPerSecond: 10_000,
    frameBurst: 10_000,
    userFramesPerSecond: 10_000,
    userFrameBurst: 10_000,
    roomCreatesPerHour: 10_000,
    dmOpensPerHour: 10_000,
    membershipChangesPerHour: 10_000,
    reactionsPerMinute: 10_000,
    typingForwardMs: 0,
  });
  for (const role of ['owner', 'admin', 'member', 'outsider', 'removed'] as Role[]) {
    users[role] = await server.register(uniqueName(role));
    sockets[role] = connect(server.wsUrl, { token: users[role].token, params: { history: '0' } });
    await sockets[role].next('hello');
  }
});
after(async () => {
  await Promise.all(Object.values(sockets).map((s) => s.close()));
  await server.close();
});

describe('authorization matrix', () => {
  for (const kind of ['public', 'private', 'dm'] as Kind[]) {
    for (const [name, action] of Object.entries(ACTIONS)) {
      test(`${kind} room: ${name}`, async () => {
        const f = await fixture(kind);
        const rule = RULES[name]![kind];
        const roles: Role[] = kind === 'dm' ? ['member', 'outsider'] : ['owner', 'admin', 'member', 'outsider', 'removed'];
        const got: Record<string, Outcome> = {};
        const want: Record<string, Outcome> = {};
        for (let i = 0; i < roles.length; i++) {
          want[roles[i]!] = rule[i]!;
          got[roles[i]!] = await action(f, roles[i]!);
        }
        assert.deepEqual(got, want);
      });
    }
  }
});
