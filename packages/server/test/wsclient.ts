/**
 * A raw protocol client for tests: a real `ws` socket that records every frame it receives, so a
 * test can wait for frames by type and assert on exactly what arrived. Deliberately not the SDK:
 * these tests pin the wire protocol itself.
 */
import { decodeServerMessage, type Message, type RoomEvent, type ServerFrame } from '@chatter/protocol';
import WebSocket from 'ws';

type FrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

/**
 * How long a wait gives up after by default. A wait ends at its event, or at once with the reason
 * when the socket closes; this bound only turns a lost event into a failure, so it is sized for a
 * CI machine running two suites on two cores, not for the event's usual time.
 */
const WAIT_MS = 15_000;

export interface TestSocket {
  ws: WebSocket;
  frames: ServerFrame[];
  /** Resolves with the close code and reason. Waits for frames reject once the socket has closed, so a test that expects a close awaits this. */
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
  send(frame: unknown): void;
  sendRaw(data: string | Buffer): void;
  /** Wait for the next frame of `type` (after `from`, default: frames not yet taken) matching `where`. */
  next<T extends ServerFrame['type']>(type: T, where?: (f: FrameOf<T>) => boolean, timeoutMs?: number): Promise<FrameOf<T>>;
  /** All frames of a type received so far. */
  all<T extends ServerFrame['type']>(type: T): FrameOf<T>[];
  /** Wait until `count` frames of `type` have been received in total. */
  waitCount<T extends ServerFrame['type']>(type: T, count: number, timeoutMs?: number): Promise<FrameOf<T>[]>;
  /** Wait for the next live `event` frame whose event is of `kind` and matches `where`. */
  nextEvent<K extends RoomEvent['kind']>(kind: K, where?: (e: Extract<RoomEvent, { kind: K }>) => boolean, timeoutMs?: number): Promise<Extract<RoomEvent, { kind: K }>>;
  /** Wait for the next message created live (a `message_created` event) matching `where`. */
  nextMessage(where?: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
  /** Every message created live so far, in arrival order. */
  messages(): Message[];
  /** Wait until `count` messages have been created live in total. */
  waitMessages(count: number, timeoutMs?: number): Promise<Message[]>;
  close(): Promise<void>;
}

export function connect(url: string, options: { token?: string; via?: 'header' | 'query' | 'cookie'; origin?: string; params?: Record<string, string> } = {}): TestSocket {
  const u = new URL(url);
  for (const [k, v] of Object.entries(options.params ?? {})) u.searchParams.set(k, v);
  const headers: Record<string, string> = {};
  const via = options.via ?? 'header';
  if (options.token && via === 'query') u.searchParams.set('token', options.token);
  if (options.token && via === 'header') headers.authorization = `Bearer ${options.token}`;
  if (options.token && via === 'cookie') headers.cookie = `chatter_session=${options.token}`;
  if (options.origin) headers.origin = options.origin;
  const ws = new WebSocket(u, { headers });
  const frames: ServerFrame[] = [];
  const taken = new Set<ServerFrame>();
  const waiters = new Set<() => void>();
  /** Set once the socket has closed: waits that are still unmet can never be met, and say why. */
  let closedWith: { code: number; reason: string } | null = null;
  ws.on('message', (data) => {
    for (const f of decodeServerMessage(data.toString())) frames.push(f);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      closedWith = { code, reason: reason.toString() };
      resolve(closedWith);
      for (const w of [...waiters]) w();
    });
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
  opened.catch(() => {});
  ws.on('error', () => {});

  function waitFor<R>(check: () => R | undefined, timeoutMs: number, what: string): Promise<R> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const result = check();
        if (result !== undefined) {
          waiters.delete(attempt);
          clearTimeout(timer);
          resolve(result);
        } else if (closedWith) {
          waiters.delete(attempt);
          clearTimeout(timer);
          reject(new Error(`socket closed (${closedWith.code} ${JSON.stringify(closedWith.reason)}) while waiting for ${what}; got: ${frames.map((f) => f.type).join(',')}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(attempt);
        reject(new Error(`timed out waiting for ${what}; got: ${frames.map((f) => f.type).join(',')}`));
      }, timeoutMs);
      waiters.add(attempt);
      attempt();
    });
  }

  return {
    ws,
    frames,
    closed,
    opened,
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendRaw: (data) => ws.send(data),
    next(type, where, timeoutMs = WAIT_MS) {
      return waitFor(() => {
        const f = frames.find((x) => x.type === type && !taken.has(x) && (!where || where(x as never)));
        if (f) taken.add(f);
        return f as never;
      }, timeoutMs, `frame ${type}`);
    },
    all: (type) => frames.filter((f) => f.type === type) as never,
    waitCount(type, count, timeoutMs = WAIT_MS) {
      return waitFor<FrameOf<typeof type>[]>(() => {
        const list = frames.filter((f) => f.type === type) as FrameOf<typeof type>[];
        return list.length >= count ? list : undefined;
      }, timeoutMs, `${count} ${type} frames`);
    },
    nextEvent(kind, where, timeoutMs = WAIT_MS) {
      const matches = where as ((e: RoomEvent) => boolean) | undefined;
      return waitFor(() => {
        const f = frames.find((x) => x.type === 'event' && !taken.has(x) && x.event.kind === kind && (!matches || matches(x.event)));
        if (f) taken.add(f);
        return f?.type === 'event' ? f.event : undefined;
      }, timeoutMs, `event ${kind}`) as never;
    },
    async nextMessage(where, timeoutMs = WAIT_MS) {
      const e = await this.nextEvent('message_created', (x) => !where || where(x.message), timeoutMs);
      return e.message;
    },
    waitMessages(count, timeoutMs = WAIT_MS) {
      return waitFor(() => {
        const list = this.messages();
        return list.length >= count ? list : undefined;
      }, timeoutMs, `${count} messages`);
    },
    messages: () => frames.flatMap((f) => (f.type === 'event' && f.event.kind === 'message_created' ? [f.event.message] : [])),
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close();
      await closed;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let counter = 0;
export function uniqueName(prefix = 'user'): string {
  return `${prefix}${process.pid % 1000}_${++counter}`;
}
