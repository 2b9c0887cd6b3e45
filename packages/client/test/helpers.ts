/**
 * Test support for the SDK: real `ws` sockets, and a recorder that applies the client's events to
 * a per-room list exactly as an app would, so tests can assert on what a user would see.
 */
import { storeMessages, type TestServer } from '@chatter/server/testing';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ChatterClient, type ChatterClientOptions, type Message, type PendingChange, type StatusEvent } from '../src/index.js';

let counter = 0;
/** Usernames are 3-32 characters; unique per test run. */
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}_${process.pid.toString(36)}${counter}${Math.random().toString(36).slice(2, 6)}`.slice(0, 32);
}

export interface Recorded {
  client: ChatterClient;
  /** Every new message handed over (`message` events: live or replayed), in delivery order. */
  delivered: Message[];
  /** Rooms whose held state was replaced by a fresh page (`reset` events), in order. */
  resets: string[];
  statuses: Array<StatusEvent & { at: number }>;
  errors: Array<{ code: string; message: string; ref?: string }>;
  sessionEnded: Array<{ code: number; reason: string }>;
  outboxes: PendingChange[][];
  /** The messages the store holds for a room: what a user would see. */
  view(room?: string): readonly Message[];
}

const live = new Set<Recorded>();

/** A client on Node's `ws`, with fast reconnects unless overridden, recording everything it emits. */
export function recordClient(url: string, token: string | undefined, opts: Partial<ChatterClientOptions> = {}): Recorded {
  const client = new ChatterClient({
    url,
    ...(token !== undefined && { token }),
    WebSocket,
    reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
    ...opts,
  });
  const rec: Recorded = {
    client,
    delivered: [],
    resets: [],
    statuses: [],
    errors: [],
    sessionEnded: [],
    outboxes: [],
    view: (room = 'general') => client.store.room(room)?.messages ?? [],
  };
  live.add(rec);
  client.on('message', (m) => rec.delivered.push(m));
  client.on('reset', (e) => rec.resets.push(e.room));
  client.on('status', (s) => rec.statuses.push({ ...s, at: Date.now() }));
  client.on('error', (e) => rec.errors.push(e));
  client.on('session_ended', (e) => rec.sessionEnded.push(e));
  client.on('outbox', (items) => rec.outboxes.push(items));
  return rec;
}

/** Close every client a test made, so no socket or timer outlives it. */
export function closeAllClients(): void {
  for (const rec of live) rec.client.close();
  live.clear();
}

/** One line per client of the test: where its connection stands and why, for a failure message. */
function describeClients(): string {
  return [...live]
    .map((rec, i) => {
      const last = rec.statuses.at(-1);
      const close = [...rec.statuses].reverse().find((s) => s.closeCode !== undefined);
      const ended = rec.sessionEnded.at(-1);
      return `  client ${i + 1} (${rec.client.user?.username ?? 'not signed in'}): ${last?.status ?? 'never connected'}${
        close ? `, last close ${close.closeCode}${close.reason ? ` ${close.reason}` : ''}` : ''
      }${ended ? `, session ended ${ended.code} ${ended.reason}` : ''}`;
    })
    .join('\n');
}

/**
 * Wait until `condition` holds. A client whose session ends meanwhile (a fatal close: it will not
 * reconnect) fails the wait at once, with the close code; a timeout says where every client's
 * connection stands, so a failure says why rather than only that it timed out.
 */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const endedBefore = new Map([...live].map((rec) => [rec, rec.sessionEnded.length]));
  while (!condition()) {
    for (const rec of live) {
      const ended = rec.sessionEnded.at(-1);
      if (ended && rec.sessionEnded.length > (endedBefore.get(rec) ?? 0)) {
        throw new Error(`waiting for: ${what}: a client's session ended (close ${ended.code} ${ended.reason}), it will not reconnect\n${describeClients()}`);
      }
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}\n${describeClients()}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Seqs strictly increasing: each message once, in order. (Messages share the room's log with
 * membership and reaction events, so their seqs need not be consecutive.)
 */
export function assertAscending(messages: readonly Message[], label = 'messages'): void {
  for (let i = 1; i < messages.length; i++) {
    assert.ok(messages[i]!.seq > messages[i - 1]!.seq, `${label}: seq ${messages[i]!.seq} follows ${messages[i - 1]!.seq} (index ${i})`);
  }
}

/** The seqs of the `message_created` events a client applied, per delivery (one array per frame). */
export function messageBatches(rec: Recorded): number[][] {
  const batches: number[][] = [];
  rec.client.on('events', (e) => {
    const seqs = e.events.filter((ev) => ev.kind === 'message_created').map((ev) => ev.seq);
    if (seqs.length > 0) batches.push(seqs);
  });
  return batches;
}

export function texts(messages: readonly Message[]): string[] {
  return messages.map((m) => m.text);
}

/** An in-memory stand-in for localStorage-backed persistence (the store interface is the seam). */
export function memoryStore(initial: PendingChange[] = []): { load(): PendingChange[]; save(items: PendingChange[]): void; items: PendingChange[] } {
  const store = {
    items: initial.map((i) => ({ ...i })),
    load: () => store.items.map((i) => ({ ...i })),
    save: (items: PendingChange[]) => {
      store.items = items.map((i) => ({ ...i }));
    },
  };
  return store;
}

/**
 * Store messages straight into the database through the storage seam (`storeMessages`): no
 * fan-out, like traffic no client heard. `text` makes each one's text (default `${prefix} ${i}`).
 */
export async function seed(server: TestServer, authorId: number, count: number, prefix: string, text = (i: number) => `${prefix} ${i}`): Promise<void> {
  const tag = Math.random().toString(36).slice(2, 8);
  const rows = Array.from({ length: count }, (_, i) => ({ roomId: 'general', authorId, clientId: `${prefix}-${i}-${tag}`, text: text(i), createdAt: Date.now() }));
  await storeMessages(server, rows);
}
