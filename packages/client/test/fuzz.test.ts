/**
 * The test that proves the log (issue 11): SDK clients of a few users (one user on two devices)
 * against a real server process do random sends, edits, deletes, reactions, reads, joins, leaves,
 * invites and removals over four rooms (general, a public channel, a private channel, a DM), while
 * their connections are cut and kept down at random and the server is restarted once (SIGTERM or
 * SIGKILL) in the middle. Then, once everyone is back, with an empty outbox, and has seen a marker
 * of every device in every room, each client's store must equal what a fresh client of the same
 * user loads from the server; no client applied any event twice; every acked send is stored once.
 *
 * A PRNG seeded per run makes every choice (operation, device, room, message, drops, the restart
 * and how it happens); a failure names its seed and the command that runs it again. Timing is the
 * machine's, so a seed replays the same choices, not always the same interleaving.
 *
 *   node scripts/test.mjs fuzz                 the default seeds
 *   FUZZ_SEED=1234 node scripts/test.mjs fuzz  one seed
 *   FUZZ_SEEDS=20 node scripts/test.mjs fuzz   20 random seeds (each printed)
 *   FUZZ_STEPS=400                             operations per seed (default 150)
 */
import { spawnServer, type SpawnedServer, type TestUser } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { ChatterApi, ChatterApiError, type Message } from '../src/index.js';
import { ApplyCounter, Link, assertSame, differences, expectedFor, loadEverything, prng, storeState, type Rng } from './fuzz-harness.js';
import { closeAllClients, recordClient, uniqueName, waitFor, type Recorded } from './helpers.js';

const DEFAULT_SEEDS = [1, 2, 3];
const STEPS = Number(process.env.FUZZ_STEPS ?? 150);

function seedsToRun(): number[] {
  if (process.env.FUZZ_SEED) return [Number(process.env.FUZZ_SEED)];
  if (process.env.FUZZ_SEEDS) {
    const base = Math.floor(Math.random() * 1_000_000);
    return Array.from({ length: Number(process.env.FUZZ_SEEDS) }, (_, i) => base + i);
  }
  return DEFAULT_SEEDS;
}

const EMOJI = ['👍', '🎉', '😀'];
/** Refusals a random user can earn by acting on a stale view (a room left on another device, a message deleted meanwhile). */
const EXPECTED_REFUSALS = new Set(['not_a_member', 'room_not_found', 'message_not_found', 'message_deleted', 'forbidden', 'user_not_found', 'rate_limited']);
/** And for REST calls, also the server being down or shutting down. */
const EXPECTED_REST_FAILURES = new Set([...EXPECTED_REFUSALS, 'network_error', 'unavailable']);
/**
 * And for changes sent on a socket, the server refusing them while it drains for its restart
 * (`unavailable`, a code the SDK sends again after reconnecting): the final comparison proves each
 * such change was then stored exactly once.
 */
const EXPECTED_FRAME_ERRORS = new Set([...EXPECTED_REFUSALS, 'unavailable']);

interface Person {
  name: string;
  user: TestUser;
  api: ChatterApi;
}

interface Device {
  name: string;
  person: Person;
  rec: Recorded;
  link: Link;
  counter: ApplyCounter;
  /** Sends this device queued: clientId -> room. */
  sends: Map<string, string>;
  acked: Set<string>;
}

interface Rooms {
  general: string;
  pub: string;
  priv: string;
  dm: string;
}

class Run {
  readonly trace: string[] = [];
  readonly unexpected: string[] = [];
  restarting: Promise<void> | null = null;
  people: Person[] = [];
  devices: Device[] = [];
  rooms!: Rooms;
  /** Who owns each channel: they never leave it, so someone can always read it and invite. */
  owners = new Map<string, Person>();

  constructor(
    readonly seed: number,
    readonly rng: Rng,
    readonly proc: SpawnedServer,
  ) {}

  get rerun(): string {
    return `fuzz seed ${this.seed} (${STEPS} steps); rerun: FUZZ_SEED=${this.seed} node scripts/test.mjs fuzz`;
  }

  note(line: string): void {
    this.trace.push(line);
  }

  /** The failure text: the seed, the command, and the last operations before it. */
  context(what: string): string {
    const tail = process.env.FUZZ_TRACE ? this.trace : this.trace.slice(-40);
    return `${what}\n${this.rerun}\noperations (${process.env.FUZZ_TRACE ? 'all' : 'last 40; FUZZ_TRACE=1 for all'}):\n  ${tail.join('\n  ')}`;
  }
}

async function setUp(seed: number): Promise<Run> {
  const proc = await spawnServer({
    env: {
      CHATTER_LOG_LEVEL: 'warn',
      CHATTER_MESSAGES_PER_SECOND: '100000',
      CHATTER_MESSAGE_BURST: '100000',
      CHATTER_FRAMES_PER_SECOND: '100000',
      CHATTER_FRAME_BURST: '100000',
      CHATTER_USER_FRAMES_PER_SECOND: '100000',
      CHATTER_USER_FRAME_BURST: '100000',
      CHATTER_MEMBERSHIP_CHANGES_PER_HOUR: '100000',
      CHATTER_REACTIONS_PER_MINUTE: '100000',
      CHATTER_CLOSE_GRACE_MS: '500',
    },
  });
  const run = new Run(seed, prng(seed), proc);
  const names = ['ana', 'bo', 'cy', 'di'];
  const users = await Promise.all(names.map((n) => proc.register(uniqueName(n))));
  run.people = names.map((name, i) => ({ name, user: users[i]!, api: new ChatterApi({ baseUrl: proc.url, token: users[i]!.token }) }));
  const [ana, bo, cy, di] = run.people as [Person, Person, Person, Person];

  const pub = (await ana.api.createRoom({ name: 'pub', visibility: 'public' })).room.id;
  const priv = (await bo.api.createRoom({ name: 'priv', visibility: 'private' })).room.id;
  const dm = (await ana.api.openDm([cy.user.user.id])).room.id;
  await bo.api.joinRoom(pub);
  await di.api.joinRoom(pub);
  await bo.api.addMember(priv, ana.user.user.id);
  await bo.api.addMember(priv, di.user.user.id);
  run.rooms = { general: 'general', pub, priv, dm };
  run.owners.set(pub, ana);
  run.owners.set(priv, bo);

  const devices: Array<[string, Person]> = [
    ['ana#1', ana],
    ['ana#2', ana],
    ['bo', bo],
    ['cy', cy],
    ['di', di],
  ];
  run.devices = devices.map(([name, person], k) => {
    const link = new Link();
    const rec = recordClient(proc.url, person.user.token, {
      WebSocket: link.WebSocket,
      // A short first page on some devices: scrolling back then mixes pages with live events.
      history: run.rng.pick([5, 50])!,
      reconnect: { initialDelayMs: 10, maxDelayMs: 100 },
      random: prng(seed * 31 + k).next,
    });
    const device: Device = { name, person, rec, link, counter: new ApplyCounter(rec.client), sends: new Map(), acked: new Set() };
    rec.client.on('ack', (ack) => {
      if (device.sends.has(ack.clientId)) device.acked.add(ack.clientId);
    });
    rec.client.on('error', (e) => {
      if (!EXPECTED_FRAME_ERRORS.has(e.code)) run.unexpected.push(`${name}: error frame ${e.code} ${e.message}${e.ref ? ` (change ${e.ref})` : ''}`);
    });
    rec.client.connect();
    return device;
  });
  await waitFor(() => run.devices.every((d) => d.rec.client.status === 'online'), 'every device online', 30_000);
  return run;
}

function roomLabel(run: Run, id: string): string {
  return (Object.entries(run.rooms) as Array<[string, string]>).find(([, v]) => v === id)?.[0] ?? id;
}

/** A message text, sometimes mentioning someone (mention counts are part of the state). */
function textFor(run: Run, what: string, step: number): string {
  const mention = run.rng.chance(0.25) ? ` @${run.rng.pick(run.people)!.user.username}` : '';
  return `${what} ${step}${mention}`;
}

async function rest(run: Run, label: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
    run.note(`${label}: ok`);
  } catch (err) {
    const code = err instanceof ChatterApiError ? err.code : String(err);
    run.note(`${label}: ${code}`);
    if (!EXPECTED_REST_FAILURES.has(code)) run.unexpected.push(`${label}: ${code} ${err instanceof Error ? err.message : ''}`);
  }
}

/** Let sockets, timers and the server's answers run for a moment between operations. */
async function yieldTurns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Nothing waiting in the outboxes of the devices that can reach the server (failed sends aside). */
function flowing(run: Run): boolean {
  return run.devices.every(
    (d) => d.link.down || (d.rec.client.status === 'online' && d.rec.client.pending().every((p) => p.state === 'failed')),
  );
}

const OPS = {
  send: 30,
  edit: 8,
  delete: 5,
  react: 10,
  unreact: 5,
  read: 8,
  join: 3,
  leave: 3,
  invite: 3,
  remove: 1,
  rename: 1,
  scroll: 3,
  burst: 3,
  drop: 6,
  down: 2,
  up: 4,
  flow: 5,
};

async function step(run: Run, i: number): Promise<void> {
  const { rng } = run;
  const op = rng.weighted(OPS);
  const d = rng.pick(run.devices)!;
  const client = d.rec.client;
  const me = d.person.user.user.id;
  const room = rng.pick(client.store.rooms());
  const view = room ? client.store.room(room.id) : null;
  const at = `#${i} ${d.name} ${op}`;
  const where = room ? roomLabel(run, room.id) : '-';
  const pickMessage = (ok: (m: Message) => boolean) => rng.pick((view?.messages ?? []).filter(ok));

  switch (op) {
    case 'send': {
      if (!room) return run.note(`${at}: no room`);
      const text = textFor(run, `${d.name} says`, i);
      const p = client.send(room.id, text);
      d.sends.set(p.clientId, room.id);
      return run.note(`${at} ${where} "${text}" (${p.clientId.slice(0, 6)})`);
    }
    case 'edit': {
      const m = pickMessage((m) => m.author.id === me && !m.deleted);
      if (!room || !m) return run.note(`${at}: nothing to edit`);
      const text = textFor(run, `${d.name} edits`, i);
      client.edit(room.id, m.id, text);
      return run.note(`${at} ${where} m${m.id} "${text}"`);
    }
    case 'delete': {
      const admin = room?.role === 'owner' || room?.role === 'admin';
      const m = pickMessage((m) => (admin || m.author.id === me) && !m.deleted);
      if (!room || !m) return run.note(`${at}: nothing to delete`);
      client.delete(room.id, m.id);
      return run.note(`${at} ${where} m${m.id}${m.author.id === me ? '' : ' (as admin)'}`);
    }
    case 'react': {
      const m = pickMessage((m) => !m.deleted);
      if (!room || !m) return run.note(`${at}: nothing to react to`);
      const emoji = rng.pick(EMOJI)!;
      client.react(room.id, m.id, emoji, true);
      return run.note(`${at} ${where} m${m.id} ${emoji}`);
    }
    case 'unreact': {
      const m = pickMessage((m) => m.reactions.some((r) => r.users.includes(me))) ?? pickMessage((m) => !m.deleted);
      if (!room || !m) return run.note(`${at}: nothing to unreact`);
      const emoji = rng.pick(m.reactions.filter((r) => r.users.includes(me)).map((r) => r.emoji)) ?? rng.pick(EMOJI)!;
      client.react(room.id, m.id, emoji, false);
      return run.note(`${at} ${where} m${m.id} ${emoji}`);
    }
    case 'read': {
      if (!room || !view || view.applied === null) return run.note(`${at}: nothing to read`);
      const from = room.readSeq;
      const to = view.applied;
      const seq = to > from && rng.chance(0.4) ? from + 1 + rng.int(to - from) : to;
      client.markRead(room.id, seq);
      return run.note(`${at} ${where} through ${seq} (applied ${to})`);
    }
    case 'join':
      return rest(run, `${at} pub`, () => d.person.api.joinRoom(run.rooms.pub));
    case 'leave': {
      const target = rng.pick([run.rooms.pub, run.rooms.priv].filter((r) => run.owners.get(r) !== d.person))!;
      return rest(run, `${at} ${roomLabel(run, target)}`, () => d.person.api.leaveRoom(target));
    }
    case 'invite': {
      const target = rng.pick([run.rooms.pub, run.rooms.priv])!;
      const who = rng.pick(run.people.filter((p) => p !== d.person))!;
      return rest(run, `${at} ${who.name} to ${roomLabel(run, target)}`, () => d.person.api.addMember(target, who.user.user.id));
    }
    case 'remove': {
      const target = rng.pick([run.rooms.pub, run.rooms.priv])!;
      const owner = run.owners.get(target)!;
      const who = rng.pick(run.people.filter((p) => p !== owner))!;
      return rest(run, `#${i} ${owner.name} remove ${who.name} from ${roomLabel(run, target)}`, () => owner.api.removeMember(target, who.user.user.id));
    }
    case 'rename': {
      const target = rng.pick([run.rooms.pub, run.rooms.priv])!;
      const owner = run.owners.get(target)!;
      const body = rng.chance(0.5) ? { name: `${roomLabel(run, target)} ${i}` } : { topic: `topic ${i}` };
      return rest(run, `#${i} ${owner.name} update ${roomLabel(run, target)} ${JSON.stringify(body)}`, () => owner.api.updateRoom(target, body));
    }
    case 'scroll':
      if (!room || !view?.hasMoreOlder) return run.note(`${at}: nothing older`);
      // Not awaited: the page may come back before or after events about the same messages.
      client.loadOlder(room.id, 1 + rng.int(10)).catch((err: unknown) => run.note(`${at} ${where}: ${err instanceof Error ? err.message : String(err)}`));
      return run.note(`${at} ${where} before seq ${view.messages[0]?.seq ?? '-'}`);
    case 'burst': {
      // Changes on the wire and unacked when the link drops: resent with the same clientIds, done once.
      if (!room) return run.note(`${at}: no room`);
      const n = 2 + rng.int(3);
      for (let k = 0; k < n; k++) d.sends.set(client.send(room.id, `${d.name} bursts ${i}.${k}`).clientId, room.id);
      const m = pickMessage((m) => !m.deleted);
      if (m) client.react(room.id, m.id, rng.pick(EMOJI)!, rng.chance(0.7));
      await yieldTurns(rng.int(3));
      return run.note(`${at} ${where}: ${n} sends${m ? ` and a reaction on m${m.id}` : ''}, then cut ${d.link.cut()} socket(s)`);
    }
    case 'drop':
      return run.note(`${at}: cut ${d.link.cut()} socket(s)`);
    case 'down':
      d.link.down = true;
      return run.note(`${at}: cut ${d.link.cut()} socket(s), stays down`);
    case 'up': {
      const down = rng.pick(run.devices.filter((x) => x.link.down));
      if (!down) return run.note(`#${i} up: nobody down`);
      down.link.down = false;
      return run.note(`#${i} ${down.name} up`);
    }
    case 'flow':
      run.note(`#${i} flow`);
      if (run.restarting) return;
      return waitFor(() => run.restarting !== null || flowing(run), run.context(`flow at step ${i}: outboxes of reachable devices drained`), 30_000);
  }
}

/** Everyone back, every outbox empty, and every device's marker in every room seen by every device holding the room. */
async function settle(run: Run): Promise<string | null> {
  await run.restarting;
  for (const d of run.devices) d.link.down = false;
  run.note('settle: everyone up');
  const drained = () =>
    run.devices.every((d) => {
      for (const p of d.rec.client.pending()) if (p.state === 'failed') d.rec.client.discard(p.clientId);
      return d.rec.client.status === 'online' && d.rec.client.pending().length === 0;
    });
  await waitFor(drained, run.context('every device online with an empty outbox'), 30_000);

  const markers: Array<{ device: Device; room: string; clientId: string }> = [];
  for (const d of run.devices) {
    for (const room of d.rec.client.store.rooms()) {
      const p = d.rec.client.send(room.id, `marker ${d.name}`);
      d.sends.set(p.clientId, room.id);
      markers.push({ device: d, room: room.id, clientId: p.clientId });
    }
  }
  await waitFor(drained, run.context('markers sent'), 30_000);
  const missing = () => {
    const out: string[] = [];
    for (const m of markers) {
      if (!m.device.acked.has(m.clientId)) continue; // refused: the device was not in the room after all
      for (const d of run.devices) {
        const view = d.rec.client.store.room(m.room);
        if (view && !view.messages.some((x) => x.clientId === m.clientId)) out.push(`${d.name} lacks ${m.device.name}'s marker in ${roomLabel(run, m.room)}`);
      }
    }
    return out;
  };
  try {
    await waitFor(() => missing().length === 0, 'markers seen', 30_000);
    return null;
  } catch {
    // The comparison below says more about what is wrong; this is reported if it finds nothing.
    return `markers never arrived:\n  ${missing().join('\n  ')}`;
  }
}

async function checkAckedSends(run: Run): Promise<void> {
  const stored = new Map<string, Message[]>();
  for (const room of Object.values(run.rooms)) {
    const reader = run.owners.get(room) ?? run.people[0]!; // ana is in general and the DM for good
    for (let after = 0; ; ) {
      const page = await reader.api.history(room, { after, limit: 100 });
      for (const m of page.messages) {
        const key = `${m.author.id}/${m.clientId}`;
        stored.set(key, [...(stored.get(key) ?? []), m]);
      }
      if (!page.hasMore || page.messages.length === 0) break;
      after = page.messages.at(-1)!.seq;
    }
  }
  const problems: string[] = [];
  for (const [key, list] of stored) if (list.length > 1) problems.push(`${key} stored ${list.length} times (seqs ${list.map((m) => m.seq).join(', ')})`);
  for (const d of run.devices) {
    for (const clientId of d.acked) {
      const list = stored.get(`${d.person.user.user.id}/${clientId}`) ?? [];
      if (list.length !== 1 || list[0]!.room !== d.sends.get(clientId)) {
        problems.push(`${d.name}'s acked send ${clientId} in ${roomLabel(run, d.sends.get(clientId)!)} is stored ${list.length} times`);
      }
    }
  }
  assert.deepEqual(problems, [], run.context('every acked send is stored exactly once'));
}

async function compareWithFreshClients(run: Run): Promise<void> {
  for (const person of run.people) {
    const fresh = recordClient(run.proc.url, person.user.token);
    fresh.client.connect();
    await waitFor(() => fresh.client.status === 'online', `fresh client of ${person.name} online`, 30_000);
    await loadEverything(fresh.client);
    const reference = storeState(fresh.client, (id) => roomLabel(run, id));
    fresh.client.close();
    for (const d of run.devices.filter((x) => x.person === person)) {
      const same = () => {
        const state = storeState(d.rec.client, (id) => roomLabel(run, id));
        return differences(state, expectedFor(state, reference)).length === 0;
      };
      // A read position moved on another device reaches this one as read_state; give it its turn.
      await waitFor(same, 'converged', 15_000).catch(() => {});
      const state = storeState(d.rec.client, (id) => roomLabel(run, id));
      assertSame(state, expectedFor(state, reference), run.context(`${d.name}'s store differs from a fresh client's`));
    }
  }
}

describe('fuzz: random changes, drops and a server restart; every store ends equal to the server', () => {
  afterEach(() => closeAllClients());

  for (const seed of seedsToRun()) {
    // Generous: about 20 s on an idle 2-core machine, but a shared one can be several times slower.
    test(`seed ${seed}`, { timeout: 300_000 }, async () => {
      const started = Date.now();
      const run = await setUp(seed);
      try {
        const restartAt = Math.floor(STEPS * (0.3 + 0.4 * run.rng.next()));
        const kill = run.rng.chance(0.5);
        for (let i = 0; i < STEPS; i++) {
          if (i === restartAt) {
            run.note(`#${i} server ${kill ? 'SIGKILL' : 'SIGTERM'} and restart`);
            run.restarting = (async () => {
              if (kill) await run.proc.kill('SIGKILL');
              await run.proc.restart();
              run.note('server back');
              run.restarting = null;
            })();
          }
          await step(run, i);
          await yieldTurns(run.rng.int(4));
        }
        const stuck = await settle(run);

        for (const d of run.devices) assert.deepEqual(d.counter.twice(), [], run.context(`${d.name} applied an event twice`));
        await compareWithFreshClients(run);
        if (stuck) assert.fail(run.context(stuck));
        await checkAckedSends(run);
        assert.deepEqual(run.unexpected, [], run.context('unexpected refusals'));
        const acked = run.devices.reduce((n, d) => n + d.acked.size, 0);
        console.log(`fuzz seed ${seed}: ${STEPS} steps, ${acked} acked sends, ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } finally {
        closeAllClients();
        await run.proc.dispose();
      }
    });
  }
});
