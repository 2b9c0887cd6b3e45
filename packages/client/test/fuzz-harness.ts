/**
 * Support for the SDK's fuzz test (fuzz.test.ts): a seeded PRNG, sockets the test can cut, a
 * per-client record of every event the store applied, and the comparison of a client's store with
 * a fresh client's.
 */
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ChatterClient, type Message, type MyRoom, type WebSocketConstructor } from '../src/index.js';

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (items) => {
      if (items.length === 0) return undefined;
      return items[Math.floor(next() * items.length)];
    },
    weighted: (table) => {
      const total = (Object.values(table) as number[]).reduce((s, w) => s + w, 0);
      let r = next() * total;
      for (const [key, w] of Object.entries(table) as [string, number][]) {
        if ((r -= w) < 0) return key as never;
      }
      return Object.keys(table)[0] as never;
    },
  };
}

export interface Rng {
  /** In [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T | undefined;
  weighted<K extends string>(table: Record<K, number>): K;
}

/**
 * The network between one client and the server, as the test controls it: `cut()` drops every
 * open socket without a closing handshake (the SDK sees what a lost network looks like, close
 * 1006), and while `down` every new attempt fails before its handshake.
 */
export class Link {
  down = false;
  private readonly sockets = new Set<WebSocket>();

  /** The constructor to pass as the SDK's `WebSocket` option. */
  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const link = this;
    class LinkedSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
        super(url, protocols, options);
        if (link.down) {
          this.terminate(); // the SDK hears the failure on a later tick, after it has set its handlers
          return;
        }
        link.sockets.add(this);
        this.once('close', () => link.sockets.delete(this));
      }
    }
    this.WebSocket = LinkedSocket;
  }

  cut(): number {
    const n = this.sockets.size;
    for (const s of this.sockets) s.terminate();
    this.sockets.clear();
    return n;
  }
}

/**
 * Every event a client's store applied, counted per (room, seq). The store applies events only in
 * `drain`, and the client hands each application to its `events` listeners, so this sees them all.
 */
export class ApplyCounter {
  readonly counts = new Map<string, number>();

  constructor(client: ChatterClient) {
    client.on('events', ({ room, events }) => {
      for (const e of events) {
        const key = `${room}#${e.seq}`;
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      }
    });
  }

  twice(): string[] {
    return [...this.counts].filter(([, n]) => n > 1).map(([key, n]) => `${key} applied ${n} times`);
  }
}

/** What the comparison looks at in a message: everything the server states about it. */
function messageState(m: Message) {
  return {
    id: m.id,
    seq: m.seq,
    author: m.author.id,
    clientId: m.clientId,
    createdAt: m.createdAt,
    text: m.text,
    version: m.version,
    editedAt: m.editedAt,
    deleted: m.deleted,
    mentions: [...m.mentions].sort((a, b) => a - b),
    reactions: m.reactions.map((r) => ({ emoji: r.emoji, count: r.count, users: r.users })),
  };
}

function roomState(info: MyRoom, applied: number | null) {
  return {
    id: info.id,
    kind: info.kind,
    name: info.name,
    topic: info.topic,
    visibility: info.visibility,
    archived: info.archived,
    role: info.role,
    memberCount: info.memberCount,
    members: info.members.map((u) => u.id).sort((a, b) => a - b),
    lastSeq: info.lastSeq,
    applied,
    readSeq: info.readSeq,
    unread: info.unread,
    mentions: info.mentions,
    lastActivityAt: info.lastActivityAt,
  };
}

export type StoreState = ReturnType<typeof storeState>;

/**
 * A client's store as plain data, rooms by id. `window`: for each room, the messages of the
 * reference to keep, given the messages this client holds. A client holds the newest messages
 * (its initial page and everything after it), the reference all of them: the client must hold
 * exactly the reference's messages from its oldest held one on, and all of them once it says
 * there are no older ones.
 */
export function storeState(client: ChatterClient, label: (roomId: string) => string = (id) => id) {
  const rooms: Record<string, { info: ReturnType<typeof roomState>; loaded: boolean; hasMoreOlder: boolean; messages: ReturnType<typeof messageState>[] }> = {};
  for (const info of [...client.store.rooms()].sort((a, b) => a.id.localeCompare(b.id))) {
    const view = client.store.room(info.id)!;
    rooms[label(info.id)] = {
      info: roomState(view.info, view.applied),
      loaded: view.loaded,
      hasMoreOlder: view.hasMoreOlder,
      messages: view.messages.map(messageState),
    };
  }
  return rooms;
}

/**
 * The reference cut to what `client` is expected to hold: the same rooms, and per room the
 * messages from the client's oldest held one on (all of them when it has no older ones to load).
 */
export function expectedFor(client: StoreState, reference: StoreState): StoreState {
  const out: StoreState = {};
  for (const [id, ref] of Object.entries(reference)) {
    const mine = client[id];
    const oldest = mine && mine.hasMoreOlder ? (mine.messages[0]?.seq ?? Infinity) : -Infinity;
    out[id] = {
      info: ref.info,
      loaded: mine?.loaded ?? ref.loaded,
      hasMoreOlder: mine?.hasMoreOlder ?? ref.hasMoreOlder,
      messages: ref.messages.filter((m) => m.seq >= oldest),
    };
  }
  return out;
}

/** Load every message of every room into a fresh client's store (the reference). */
export async function loadEverything(client: ChatterClient): Promise<void> {
  for (const room of client.store.rooms()) {
    await client.loadRoom(room.id, 100);
    while (await client.loadOlder(room.id, 100));
  }
}

/** Where two plain values differ, one line per leaf: `path: actual ≠ expected`. */
export function differences(actual: unknown, expected: unknown, path = ''): string[] {
  if (Object.is(actual, expected)) return [];
  if (typeof actual !== 'object' || typeof expected !== 'object' || actual === null || expected === null) {
    return [`${path || '(root)'}: ${JSON.stringify(actual)} ≠ expected ${JSON.stringify(expected)}`];
  }
  if (Array.isArray(actual) && Array.isArray(expected) && path.endsWith('.messages')) {
    // Messages by id, so one missing message reads as that and not as every later one shifted.
    const byId = (list: unknown[]) => new Map(list.map((m) => [(m as { id: number }).id, m]));
    const a = byId(actual);
    const e = byId(expected);
    const out: string[] = [];
    for (const [id, m] of e) out.push(...(a.has(id) ? differences(a.get(id), m, `${path}[id ${id}]`) : [`${path}: lacks ${JSON.stringify(m)}`]));
    for (const [id, m] of a) if (!e.has(id)) out.push(`${path}: has extra ${JSON.stringify(m)}`);
    if (out.length === 0 && actual.map((m) => (m as { id: number }).id).join() !== expected.map((m) => (m as { id: number }).id).join()) {
      out.push(`${path}: order differs`);
    }
    return out;
  }
  const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
  const out: string[] = [];
  for (const k of keys) out.push(...differences((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
  return out;
}

/** deepEqual whose failure lists the differences and says how to reproduce them. */
export function assertSame<T>(actual: T, expected: T, what: string): void {
  const diff = differences(actual, expected);
  assert.deepEqual(diff, [], `${what}\n${diff.length} difference(s), actual ≠ expected:\n  ${diff.slice(0, 40).join('\n  ')}`);
}
