import {
  CLOSE_CODES,
  FATAL_CLOSE_CODES,
  LIMITS,
  PROTOCOL_VERSION,
  isEmoji,
  messageTextProblem,
  normalizeMessageText,
  decodeServerMessage,
  type AckFrame,
  type ErrorFrame,
  type EventsFrame,
  type HelloFrame,
  type HistoryFrame,
  type Message,
  type MembershipEvent,
  type MyRoom,
  type NotifyLevel,
  type PublicUser,
  type ResumeState,
  type RoomEvent,
  type RoomResponse,
  type SelfUser,
  type ServerFrame,
} from '@chatter/protocol';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { ChatterApiError, fieldsFrom } from './errors.js';
import { Outbox, type OutboxStore, type PendingChange, type PendingMessage } from './outbox.js';
import type { ChatterApi } from './api.js';
import { ChatterStore, type RoomMember } from './store.js';

export type ConnectionStatus = 'connecting' | 'online' | 'reconnecting' | 'offline';

export interface StatusEvent {
  status: ConnectionStatus;
  /** Reconnect attempt number: 0 while connecting the first time and once online. */
  attempt: number;
  /** Epoch ms of the next attempt, while waiting to reconnect. Absent while an attempt is under way. */
  retryAt?: number;
  /** Close code of the connection that just ended (when one did). */
  closeCode?: number;
  reason?: string;
}

export interface ChatterClientEvents {
  status: StatusEvent;
  hello: HelloFrame;
  /**
   * Events of a room's log as the store applies them: each exactly once, in seq order per room,
   * live or replayed after a reconnect. (The store already holds their effect.)
   */
  events: { room: string; events: RoomEvent[] };
  /** A new message, once, in seq order per room: the `message_created` events of `events`. */
  message: Message;
  /**
   * What the client held of a room was replaced by a fresh page (first connect, or after the
   * server said the client was too far behind or ahead, or a window around a message or back at
   * the end, `loadAround` / `jumpToLatest`): show the store's room again.
   */
  reset: { room: string };
  ack: AckFrame;
  /** The whole outbox, whenever it changes. */
  outbox: PendingChange[];
  error: { code: string; message: string; ref?: string };
  /**
   * The server closed with a code in `FATAL_CLOSE_CODES`, after which reconnecting cannot help; the
   * client stays offline. 4001 unauthorized / 4002 session ended: sign in again. 4004: the server
   * speaks another protocol version. 4000: the client sent bad connect parameters (a bug).
   */
  session_ended: { code: number; reason: string };
  /** Every frame from the server, after the client has handled it. */
  frame: ServerFrame;
}

/** Any WebSocket constructor with the browser API: the browser's own, or Node's `ws`. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => unknown;

export interface ChatterClientOptions {
  /** Server base URL (`https://chat.example.com`); a `ws(s)://` URL is used as the socket URL as is. Browser default: the page's origin. */
  url?: string;
  /** Session token. Without one, the browser's session cookie authenticates the socket. */
  token?: string;
  /** WebSocket constructor. Default `globalThis.WebSocket`; in Node pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
  /**
   * How the token reaches the server, never in the URL: `header` (`Authorization: Bearer` on the
   * upgrade; needs `ws`) or `frame` (a first `auth` frame; works everywhere). Default: `header`
   * when `WebSocket` was passed in, else `frame`.
   */
  tokenTransport?: 'header' | 'frame';
  /** Recent messages per recently active room asked for on connect (0-100). Default 50. */
  history?: number;
  reconnect?: BackoffOptions;
  heartbeat?: {
    /** Send an app-level ping after this long without hearing from the server. Default 20000. */
    pingIntervalMs?: number;
    /** Give the connection up as dead after this long without hearing anything. Default 60000 (2x the server's heartbeat). */
    timeoutMs?: number;
  };
  /** Give up on a connection attempt that has not said hello after this long. Default 15000. */
  connectTimeoutMs?: number;
  /** Resend (same clientId) a change not acked after this long on a live connection. Default 10000. */
  ackTimeoutMs?: number;
  /** Reject `requestHistory` after this long without an answer. Default 15000. */
  requestTimeoutMs?: number;
  /** Persist the outbox (web: localStorage) so pending changes survive a reload. */
  outboxStore?: OutboxStore;
  /** Makes client ids: 1-64 of `A-Z a-z 0-9 _ -`. Default: 128 random bits in hex. */
  clientIdFactory?: () => string;
  /** Source of randomness for the reconnect jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** The store to fill (default: a new one). Share one only between clients of the same user and server. */
  store?: ChatterStore;
  /**
   * The REST client of the same user and server, for what is loaded over REST into the store
   * (`loadMembers`) and the user's settings (`setNotify`).
   */
  api?: ChatterApi;
}

/** The part of the WebSocket API used here; the browser's WebSocket and `ws` both have it. */
interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the connection without a closing handshake. */
  terminate?(): void;
}

type ReplyFrame = HistoryFrame | EventsFrame;

interface LogRequest {
  frame: Record<string, unknown>;
  resolve: (frame: ReplyFrame) => void;
  reject: (err: ChatterApiError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Waiting to be sent again after a `rate_limited` refusal. */
  retry: ReturnType<typeof setTimeout> | null;
}

type Timer = ReturnType<typeof setTimeout>;

const clientIdPattern = new RegExp(LIMITS.clientIdPattern);
const roomIdPattern = new RegExp(LIMITS.roomIdPattern);
/** A change the server may accept later: wait this long, then try again. */
const TRANSIENT_SEND_RETRY_MS = 2000;
/** Refusals after which the change itself is impossible (not the connection or the rate). */
const TRANSIENT_CODES = new Set(['rate_limited', 'internal', 'unavailable']);

/**
 * A real-time connection to a Chatter server that survives disconnects: it reconnects with
 * backoff, resumes every room from the last event it applied, and fills `store` (one state of
 * every room, shared by every view). Changes (send, edit, delete, react) go through an outbox that
 * is resent (same clientId, so never doubled) until acked, one at a time per room.
 *
 * ```ts
 * const client = new ChatterClient({ url: 'http://127.0.0.1:8000', token, WebSocket });
 * client.store.subscribeRoom('general', () => render(client.store.room('general')));
 * client.connect();
 * client.send('general', 'hello');
 * ```
 */
export class ChatterClient {
  /** Used for the next connection attempt; set it after signing in again. */
  token: string | undefined;
  /** Every room's state: subscribe to it, read it with its selectors. */
  readonly store: ChatterStore;

  private readonly events = new Emitter<ChatterClientEvents>();
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly socketUrl: string;
  private readonly tokenTransport: 'header' | 'frame';
  private readonly historyOnConnect: number;
  private readonly backoff: Required<BackoffOptions>;
  private readonly pingIntervalMs: number;
  private readonly deadAfterMs: number;
  private readonly connectTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly makeClientId: () => string;
  private readonly random: () => number;
  private readonly outbox: Outbox;

  private socket: SocketLike | null = null;
  private currentStatus: ConnectionStatus = 'offline';
  /** Between connect() and close() (or a fatal close). */
  private running = false;
  private attempt = 0;
  private retryTimer: Timer | null = null;
  private connectTimer: Timer | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private lastReceivedAt = 0;
  private lastPingAt = 0;
  /** Rooms named in the current connection's resume. */
  private resumed = new Set<string>();

  private limits = { messageMaxChars: LIMITS.messageMaxChars as number, historyPageMax: LIMITS.historyPageMax as number };

  private readonly requests = new Map<string, LogRequest>();
  /**
   * Requests waiting for their turn. The server answers one history, events or resume request per
   * connection at a time and refuses the others, so they go out one by one, in order.
   */
  private readonly requestQueue: string[] = [];
  /** The ref of the request on the wire. */
  private requestOnWire: string | null = null;
  private nextRef = 1;
  /** Rooms whose log is being paged forward (`events`); the value identifies the run. */
  private readonly catchingUp = new Map<string, object>();
  /** Rooms being reloaded after resume_gap / resume_ahead. */
  private readonly reloading = new Set<string>();
  /** Per room, the one unacked change on the wire: a room's changes go in order, rooms independently. */
  private readonly inFlight = new Map<string, { clientId: string; timer: Timer }>();
  /** Per room, waiting after a rate limit or a transient refusal. */
  private readonly paused = new Map<string, Timer>();
  /** Read positions to send once connected, per room. */
  /**
   * Read positions not yet confirmed by a `read_state` at or past them, per room. They stay queued
   * after being sent: a read written just before the socket dropped would otherwise be lost, and
   * the server's older position would come back on reconnect.
   */
  private readonly readQueue = new Map<string, number>();
  /** What `readQueue` already sent on the current socket (cleared when it goes). */
  private readonly readSent = new Map<string, number>();
  /** When `typing` last went out, per room. */
  private readonly typingSentAt = new Map<string, number>();
  private removeEnvironmentListeners: (() => void) | null = null;
  private readonly api: ChatterApi | null;
  /** Member list loads in flight, per room. */
  private readonly memberLoads = new Map<string, Promise<readonly RoomMember[]>>();
  /** Rooms whose members a consumer asked for: loaded again when the store has to drop them. */
  private readonly membersWanted = new Set<string>();
  /** Per room, how many `membership_updated` frames arrived: a REST answer older than one of them is stale. */
  private readonly settingsSeen = new Map<string, number>();

  constructor(opts: ChatterClientOptions = {}) {
    const impl = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!impl) {
      throw new TypeError("No WebSocket implementation: pass options.WebSocket (in Node: `import { WebSocket } from 'ws'`).");
    }
    this.WebSocketImpl = impl;
    this.socketUrl = socketUrlFrom(opts.url);
    this.token = opts.token;
    this.tokenTransport =
      opts.tokenTransport ?? (opts.WebSocket && opts.WebSocket !== (globalThis as { WebSocket?: unknown }).WebSocket ? 'header' : 'frame');
    this.historyOnConnect = Math.max(0, Math.min(LIMITS.historyPageMax, Math.floor(opts.history ?? LIMITS.historyOnConnect)));
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.reconnect };
    this.pingIntervalMs = opts.heartbeat?.pingIntervalMs ?? 20_000;
    this.deadAfterMs = opts.heartbeat?.timeoutMs ?? 60_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 15_000;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 15_000;
    this.makeClientId = opts.clientIdFactory ?? randomClientId;
    this.random = opts.random ?? Math.random;
    this.store = opts.store ?? new ChatterStore();
    this.api = opts.api ?? null;
    this.outbox = new Outbox(opts.outboxStore, (items) => {
      this.store.setPending(items);
      this.store.commit();
      this.events.emit('outbox', items);
    });
    this.store.setPending(this.outbox.list());
  }

  // ---- Public API ----

  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** The longest message text the server takes, from its hello (`CHATTER_MESSAGE_MAX_CHARS`); the protocol's default before the first hello. */
  get messageMaxChars(): number {
    return this.limits.messageMaxChars;
  }

  /** The signed-in user, from the server's hello; null before the first hello. */
  get user(): SelfUser | null {
    return this.store.self;
  }

  /** The user's rooms, most recently active first, with their read positions and counts. */
  get rooms(): readonly MyRoom[] {
    return this.store.rooms();
  }

  /** Returns a function that removes the listener. */
  on<K extends keyof ChatterClientEvents>(event: K, fn: (e: ChatterClientEvents[K]) => void): () => void {
    return this.events.on(event, fn);
  }

  /** Start connecting (and keep reconnecting until `close()` or a fatal close). Calling it again while running does nothing. */
  connect(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.listenToEnvironment();
    this.setStatus('connecting');
    this.open();
  }

  /** Disconnect for good: no reconnect, status `offline`. The outbox is kept (and persisted); `connect()` resumes. */
  close(): void {
    const wasActive = this.running || this.socket !== null;
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.removeEnvironmentListeners?.();
    this.removeEnvironmentListeners = null;
    const socket = this.socket;
    this.detach();
    if (socket) safeClose(socket, 1000, 'client_closed');
    this.store.clearPresence();
    this.store.commit();
    this.store.dispose();
    if (wasActive || this.currentStatus !== 'offline') this.setStatus('offline');
  }

  /**
   * Queue a message. It is sent now if online, otherwise as soon as the connection is back; it
   * stays in the outbox until it appears in the room's log. Throws `ChatterApiError`
   * (`validation_failed`) for a text the server would refuse (empty, too long, control characters)
   * or a bad room id. The text is normalised as the server does (`normalizeMessageText`), so the
   * pending copy shows exactly what will be stored.
   */
  send(room: string, text: string): PendingMessage {
    const normalized = this.checkText(room, text);
    return this.queue({ kind: 'send', room, text: normalized }) as PendingMessage;
  }

  /** Change the text of one's own message. Validated as `send` is. */
  edit(room: string, messageId: number, text: string): PendingChange {
    const normalized = this.checkText(room, text);
    return this.queue({ kind: 'edit', room, messageId, text: normalized });
  }

  /** Delete a message (one's own; any, as the room's owner or an admin). */
  delete(room: string, messageId: number): PendingChange {
    this.checkText(room, null);
    return this.queue({ kind: 'delete', room, messageId });
  }

  /** Add (`on`, the default) or remove one's reaction with an emoji. */
  react(room: string, messageId: number, emoji: string, on = true): PendingChange {
    this.checkText(room, null);
    if (!isEmoji(emoji)) throw new ChatterApiError({ status: 0, code: 'validation_failed', message: 'Give one emoji.', fields: { emoji: 'Give one emoji.' } });
    return this.queue({ kind: 'react', room, messageId, emoji, on });
  }

  /**
   * The user has seen a room up to `seq` (default: everything applied). Positions only move
   * forward; the counts clear here at once and on the user's other devices when the server
   * confirms. Sent when connected (the latest position per room otherwise waits for the connection).
   */
  markRead(room: string, seq: number = this.store.applied(room)): void {
    const current = this.store.room(room)?.info.readSeq ?? 0;
    if (seq <= current && !this.readQueue.has(room)) return;
    this.store.markReadLocally(room, seq);
    this.store.commit();
    this.readQueue.set(room, Math.max(seq, this.readQueue.get(room) ?? 0));
    this.flushReads();
  }

  /**
   * The user is in a room by a REST answer (create, join, open a DM): hold it at once. The server's
   * `room_joined` is still on its way on the socket (or lost to a reconnect, which `hello` repairs),
   * and a screen that opens the room meanwhile would have only its id to show for its name.
   */
  joined(res: RoomResponse): void {
    if (!res.membership || this.store.room(res.room.id)) return;
    // Joined just now: the activity the room list sorts on, until room_joined gives the server's.
    this.store.joinRoom({ ...res.room, ...res.membership, lastActivityAt: new Date().toISOString() });
    this.store.commit();
  }

  /** The user is typing in a room: call on every keystroke; a notice goes out at most every `LIMITS.typingIntervalMs`. */
  typing(room: string): void {
    const now = Date.now();
    if (now - (this.typingSentAt.get(room) ?? -Infinity) < LIMITS.typingIntervalMs) return;
    if (this.sendRaw({ type: 'typing', room })) this.typingSentAt.set(room, now);
  }

  /** Put a failed change back in the queue. Returns false when there is no such failed change. */
  retry(clientId: string): boolean {
    if (this.outbox.get(clientId)?.state !== 'failed') return false;
    this.outbox.setState(clientId, 'pending');
    this.flushOutbox();
    return true;
  }

  /**
   * Drop a change from the outbox (one that failed, or one the user no longer wants made).
   * One already on the wire may still be carried out. Returns whether it was in the outbox.
   */
  discard(clientId: string): boolean {
    const item = this.outbox.get(clientId);
    if (item && this.inFlight.get(item.room)?.clientId === clientId) this.clearInFlight(item.room);
    const removed = this.outbox.remove(clientId);
    this.flushOutbox();
    return removed;
  }

  /**
   * Load the newest messages of a room into the store (when the user opens a room whose messages
   * did not come with the connection). Resolves once they are there.
   */
  async loadRoom(room: string, limit: number = LIMITS.historyOnConnect): Promise<void> {
    const view = this.store.room(room);
    if (!view || view.loaded) return;
    const epoch = this.windowOf(room);
    const page = await this.requestHistory(room, { limit });
    if (this.windowOf(room) === epoch) this.takePage(room, page, 'newest');
  }

  /** Load a page of older messages of a room into the store (infinite scroll). Resolves with whether more exist. */
  async loadOlder(room: string, limit: number = this.limits.historyPageMax): Promise<boolean> {
    const view = this.store.room(room);
    if (!view) return false;
    const oldest = view.messages[0]?.seq;
    if (oldest === undefined) {
      await this.loadRoom(room, limit);
      return this.store.room(room)?.hasMoreOlder ?? false;
    }
    const epoch = this.windowOf(room);
    const page = await this.requestHistory(room, { before: oldest, limit });
    if (this.windowOf(room) !== epoch) return this.store.room(room)?.hasMoreOlder ?? false;
    this.takePage(room, page, 'older');
    return page.hasMore;
  }

  /**
   * Replace what the store holds of a room with the page around one message (a message link), which
   * may be far back in history. The room's view then has `hasMoreNewer` until `loadNewer` pages
   * reach its end again (or `jumpToLatest`). Rejects like `requestHistory`: a message that is not
   * there and one the user may not see both reject with a 404 code (`message_not_found`,
   * `room_not_found`). A deleted message is on the page as its tombstone.
   */
  async loadAround(room: string, messageId: number, limit: number = this.limits.historyPageMax): Promise<void> {
    const page = await this.requestHistory(room, { around: messageId, limit });
    this.takePage(room, page, 'window');
  }

  /**
   * Load a page of messages after the newest held one, when the room's view stops before its end
   * (`hasMoreNewer`, after `loadAround`). Resolves with whether more are still to load.
   */
  async loadNewer(room: string, limit: number = this.limits.historyPageMax): Promise<boolean> {
    const view = this.store.room(room);
    if (!view?.hasMoreNewer) return false;
    const newest = view.messages.at(-1)?.seq ?? 0;
    const epoch = this.windowOf(room);
    const page = await this.requestHistory(room, { after: newest, limit });
    if (this.windowOf(room) === epoch) this.takePage(room, page, 'newer');
    return this.store.room(room)?.hasMoreNewer ?? false;
  }

  /**
   * Back to the room's end after `loadAround`: its newest page replaces what is held, and live
   * messages are held again. Nothing to do when the view is at the end already.
   */
  async jumpToLatest(room: string, limit: number = LIMITS.historyOnConnect): Promise<void> {
    if (!this.store.room(room)?.hasMoreNewer) return;
    const page = await this.requestHistory(room, { limit });
    this.takePage(room, page, 'window');
    // Live messages applied after the page was read were not held: the pages after it bring them.
    for (let i = 0; i < 10 && (await this.loadNewer(room)); i++);
  }

  /**
   * A page of a room's history over the socket, returned only (the store is not changed; use
   * `loadRoom` / `loadOlder` / `loadAround` / `loadNewer` for that). Rejects with `ChatterApiError`
   * code `offline` when not connected, `timeout`, or the server's error.
   */
  async requestHistory(
    room: string,
    q: { before?: number; after?: number; around?: number; limit?: number } = {},
  ): Promise<{ messages: Message[]; hasMore: boolean; hasNewer?: boolean; lastSeq: number; membership: MembershipEvent[] }> {
    const frame: Record<string, unknown> = { type: 'history', room };
    if (q.before !== undefined) frame.before = q.before;
    if (q.after !== undefined) frame.after = q.after;
    if (q.around !== undefined) frame.around = q.around;
    if (q.limit !== undefined) frame.limit = q.limit;
    const reply = await this.request(frame);
    if (reply.type !== 'history') throw new ChatterApiError({ status: 0, code: 'invalid_response', message: 'The server answered with the wrong frame.' });
    return {
      messages: reply.messages,
      hasMore: reply.hasMore,
      ...(reply.hasNewer !== undefined && { hasNewer: reply.hasNewer }),
      lastSeq: reply.lastSeq,
      membership: reply.membership,
    };
  }

  /**
   * Load a room's members into the store (`store.members(room)`), when a consumer first needs them
   * (a member list opens, completion). From then on the store keeps them current from membership
   * and role events and presence, and loads them again by itself after it had to drop them (a
   * reconnect that could not resume the room, `resume_gap`). Needs the `api` option.
   */
  loadMembers(room: string): Promise<readonly RoomMember[]> {
    if (!this.api) return Promise.reject(new TypeError('loadMembers needs the api option (a ChatterApi of the same user and server).'));
    const api = this.api;
    this.membersWanted.add(room);
    const running = this.memberLoads.get(room);
    if (running) return running;
    const load = (async () => {
      // A list from before the store dropped its members may predate events it will never see
      // again: it is refused (`setMembers` answers false) and loaded anew. Twice is plenty; a third
      // drop during one load means the room is in trouble the next ask will meet anyway.
      for (let attempt = 0; ; attempt++) {
        const epoch = this.store.beginMembersLoad(room);
        if (epoch === null) throw new ChatterApiError({ status: 403, code: 'not_a_member', message: 'You are not in this room.' });
        let res: Awaited<ReturnType<ChatterApi['members']>>;
        try {
          res = await api.members(room);
        } catch (err) {
          this.store.endMembersLoad(room);
          throw err;
        }
        if (this.store.setMembers(room, res.members, res.lastSeq, epoch) || attempt >= 2) {
          this.store.commit();
          return this.store.members(room) ?? [];
        }
      }
    })().finally(() => this.memberLoads.delete(room));
    this.memberLoads.set(room, load);
    return load;
  }

  /**
   * Set the user's notification level in a room. Every device of theirs follows (the server sends
   * `membership_updated` to each); this one also takes the answer, unless a newer change from
   * another device overtook it. Needs the `api` option.
   */
  async setNotify(room: string, notify: NotifyLevel): Promise<void> {
    const api = this.requireApi('setNotify');
    const seen = this.settingsSeen.get(room) ?? 0;
    const res = await api.updateMembership(room, { notify });
    if (res.membership && (this.settingsSeen.get(room) ?? 0) === seen) {
      this.store.setNotify(room, res.membership.notify);
      this.store.commit();
    }
  }

  private requireApi(what: string): ChatterApi {
    if (!this.api) throw new TypeError(`${what} needs the api option (a ChatterApi of the same user and server).`);
    return this.api;
  }

  /** Load again the members the store had to drop, of rooms a consumer asked for. */
  private reloadWantedMembers(): void {
    for (const room of this.membersWanted) {
      if (!this.store.room(room)) this.membersWanted.delete(room);
      else if (this.store.members(room) === null) void this.loadMembers(room).catch(() => {
        // Offline or refused: the consumer's next ask (or the next reset) tries again.
      });
    }
  }

  /** How many users are online in a room (exact even where `online()` lists only some). */
  onlineCount(room: string): number {
    return this.store.room(room)?.onlineCount ?? 0;
  }

  /** Users online in a room, as last reported by the server. */
  online(room: string): PublicUser[] {
    return [...(this.store.room(room)?.online ?? [])];
  }

  /** The last seq applied for a room (every event up to it is in the store). */
  lastSeq(room: string): number {
    return this.store.applied(room);
  }

  pending(): PendingChange[] {
    return this.outbox.list();
  }

  private checkText(room: string, text: string | null): string {
    const fields: Record<string, string> = {};
    if (!roomIdPattern.test(room)) fields.room = 'Not a valid room id.';
    let normalized = '';
    if (text !== null) {
      normalized = normalizeMessageText(text);
      const problem = normalized === '' ? 'Type a message first.' : messageTextProblem(normalized, this.limits.messageMaxChars);
      if (problem) fields.text = problem;
    }
    if (Object.keys(fields).length > 0) {
      throw new ChatterApiError({ status: 0, code: 'validation_failed', message: Object.values(fields).join(' '), fields });
    }
    return normalized;
  }

  private queue(change: DistributiveOmit<PendingChange, 'clientId' | 'createdAt' | 'state'>): PendingChange {
    const clientId = this.makeClientId();
    if (!clientIdPattern.test(clientId) || this.outbox.get(clientId)) {
      throw new TypeError(`clientIdFactory returned ${JSON.stringify(clientId)}: ids must be unique, 1-64 of A-Z a-z 0-9 _ -.`);
    }
    const item = { ...change, clientId, createdAt: new Date().toISOString(), state: 'pending' } as PendingChange;
    this.outbox.add(item);
    this.flushOutbox();
    return { ...(this.outbox.get(clientId) ?? item) };
  }

  /** Send a request answered by a `history` or `events` frame with its ref, one at a time. */
  private request(frame: Record<string, unknown>): Promise<ReplyFrame> {
    if (this.currentStatus !== 'online' || !this.socket) {
      return Promise.reject(new ChatterApiError({ status: 0, code: 'offline', message: 'Not connected to the server.' }));
    }
    const ref = `r${this.nextRef++}`;
    frame.ref = ref;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.endRequest(ref);
        reject(new ChatterApiError({ status: 0, code: 'timeout', message: 'The server did not answer in time.' }));
      }, this.requestTimeoutMs);
      this.requests.set(ref, { frame, resolve, reject, timer, retry: null });
      this.requestQueue.push(ref);
      this.pumpRequests();
    });
  }

  /** Put the next waiting request on the wire, if none is there. */
  private pumpRequests(): void {
    while (this.requestOnWire === null && this.requestQueue.length > 0) {
      const ref = this.requestQueue.shift()!;
      const request = this.requests.get(ref);
      if (!request) continue;
      this.requestOnWire = ref;
      if (!this.sendRaw(request.frame)) {
        this.endRequest(ref);
        request.reject(new ChatterApiError({ status: 0, code: 'offline', message: 'Not connected to the server.' }));
      }
    }
  }

  /** Forget a request (answered, failed or timed out) and let the next one go. */
  private endRequest(ref: string): LogRequest | undefined {
    const request = this.requests.get(ref);
    this.requests.delete(ref);
    if (request) {
      clearTimeout(request.timer);
      if (request.retry) clearTimeout(request.retry);
    }
    if (this.requestOnWire === ref) {
      this.requestOnWire = null;
      this.pumpRequests();
    }
    return request;
  }

  /** While waiting to reconnect, try now instead (a "retry now" button). */
  retryNow(): void {
    if (!this.running || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setStatus('reconnecting');
    this.open();
  }

  /** Send any frame as is. Returns false when not connected (nothing is queued). */
  sendRaw(frame: object): boolean {
    if (!this.socket || this.currentStatus !== 'online') return false;
    try {
      this.socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  // ---- Connection lifecycle ----

  private open(): void {
    // Every room the store has loaded resumes from its last applied seq; the others start over at
    // the room's end (recently active ones with their newest messages, as on a first connect).
    const resume: ResumeState = {};
    for (const room of this.store.rooms()) {
      const view = this.store.room(room.id);
      if (view?.loaded && view.applied !== null) resume[room.id] = view.applied;
    }
    const resuming = Object.keys(resume).length > 0;
    this.resumed = new Set(Object.keys(resume));

    const url = new URL(this.socketUrl);
    url.searchParams.set('v', String(PROTOCOL_VERSION));
    url.searchParams.set('history', String(this.historyOnConnect));
    if (resuming) url.searchParams.set('resume', Object.entries(resume).map(([room, seq]) => `${room}:${seq}`).join(','));

    const token = this.token;
    let socket: SocketLike;
    try {
      socket = (
        token && this.tokenTransport === 'header'
          ? new this.WebSocketImpl(url.toString(), [], { headers: { Authorization: `Bearer ${token}` } })
          : new this.WebSocketImpl(url.toString())
      ) as SocketLike;
    } catch (err) {
      this.events.emit('error', { code: 'connect_failed', message: `Could not open the connection: ${errorText(err)}` });
      this.scheduleReconnect(undefined, 'connect_failed');
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket || !token || this.tokenTransport !== 'frame') return;
      const auth: Record<string, unknown> = { type: 'auth', token, history: this.historyOnConnect };
      if (resuming) auth.resume = resume;
      safeSend(socket, JSON.stringify(auth));
    };
    socket.onmessage = (ev) => {
      if (this.socket === socket) this.onData(socket, ev.data);
    };
    socket.onclose = (ev) => {
      if (this.socket === socket) this.onSocketClosed(ev.code, ev.reason);
    };
    // A close event always follows an error; the handler must exist so `ws` does not throw.
    socket.onerror = () => {};
    this.connectTimer = setTimeout(() => this.dropDeadSocket(undefined, 'connect_timeout'), this.connectTimeoutMs);
  }

  private onSocketClosed(code: number | undefined, reason: string): void {
    this.detach();
    if (!this.running) return;
    if (code !== undefined && FATAL_CLOSE_CODES.includes(code)) {
      this.running = false;
      this.removeEnvironmentListeners?.();
      this.removeEnvironmentListeners = null;
      this.setStatus('offline', { closeCode: code, reason });
      this.events.emit('session_ended', { code, reason });
      return;
    }
    this.scheduleReconnect(code, reason);
  }

  /** The connection is silent (or never said hello): stop waiting for it and reconnect now. */
  private dropDeadSocket(code: number | undefined, reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    this.onSocketClosed(code, reason);
    // A dead link may never complete a closing handshake: cut it off instead where possible.
    try {
      if (socket.terminate) socket.terminate();
      else socket.close(1000, reason);
    } catch {
      // Already closed.
    }
  }

  private scheduleReconnect(code: number | undefined, reason: string | undefined): void {
    this.attempt++;
    const delay = backoffDelay(this.attempt, this.backoff, this.random);
    const retryAt = Date.now() + delay;
    this.setStatus('reconnecting', { retryAt, ...(code !== undefined && { closeCode: code }), ...(reason && { reason }) });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.setStatus('reconnecting');
      this.open();
    }, delay);
  }

  /** Forget the current socket and everything tied to it. */
  private detach(): void {
    this.socket = null;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    for (const timer of this.paused.values()) clearTimeout(timer);
    this.paused.clear(); // the rate limit is per connection
    for (const room of [...this.inFlight.keys()]) this.clearInFlight(room);
    this.outbox.requeueUnacked();
    this.readSent.clear();
    this.store.clearPresence();
    this.store.commit();
    this.catchingUp.clear();
    this.reloading.clear();
    this.typingSentAt.clear();
    this.requestQueue.length = 0;
    this.requestOnWire = null;
    for (const [ref, request] of this.requests) {
      clearTimeout(request.timer);
      if (request.retry) clearTimeout(request.retry);
      this.requests.delete(ref);
      request.reject(new ChatterApiError({ status: 0, code: 'offline', message: 'The connection closed before the server answered.' }));
    }
  }

  private setStatus(status: ConnectionStatus, extra: Omit<StatusEvent, 'status' | 'attempt'> = {}): void {
    this.currentStatus = status;
    this.events.emit('status', { status, attempt: this.attempt, ...extra });
  }

  private startHeartbeat(): void {
    const now = Date.now();
    this.lastReceivedAt = now;
    this.lastPingAt = now;
    const tick = Math.max(10, Math.min(this.pingIntervalMs, this.deadAfterMs) / 2);
    this.heartbeatTimer = setInterval(() => {
      const at = Date.now();
      const silentFor = at - this.lastReceivedAt;
      if (silentFor >= this.deadAfterMs) return this.dropDeadSocket(CLOSE_CODES.heartbeat_timeout, 'heartbeat_timeout');
      // Browsers cannot see WebSocket pings, so ask the server for something to hear.
      if (silentFor >= this.pingIntervalMs && at - this.lastPingAt >= this.pingIntervalMs) {
        this.lastPingAt = at;
        this.sendRaw({ type: 'ping' });
      }
    }, tick);
  }

  /** Browsers: retry at once when the network comes back or the tab becomes visible again. */
  private listenToEnvironment(): void {
    const target = globalThis as { addEventListener?: Window['addEventListener']; removeEventListener?: Window['removeEventListener']; document?: Document };
    if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function' || !target.document) return;
    const doc = target.document;
    const onOnline = () => this.retryNow();
    const onVisible = () => {
      if (doc.visibilityState === 'visible') this.retryNow();
    };
    target.addEventListener('online', onOnline);
    doc.addEventListener('visibilitychange', onVisible);
    const remove = target.removeEventListener.bind(target);
    this.removeEnvironmentListeners = () => {
      remove('online', onOnline);
      doc.removeEventListener('visibilitychange', onVisible);
    };
  }

  // ---- Incoming frames ----

  private onData(socket: SocketLike, data: unknown): void {
    this.lastReceivedAt = Date.now();
    let frames: ServerFrame[];
    try {
      frames = decodeServerMessage(typeof data === 'string' ? data : decodeBytes(data));
    } catch {
      this.events.emit('error', { code: 'bad_frame', message: 'The server sent a frame that is not valid JSON.' });
      return;
    }
    for (const frame of frames) {
      if (this.socket !== socket) return; // a frame closed the connection; the rest belong to a dead socket
      this.handleFrame(frame);
      // One notification per frame: subscribers see the state after the whole frame.
      this.store.commit();
      this.events.emit('frame', frame);
    }
  }

  private handleFrame(frame: ServerFrame): void {
    const store = this.store;
    switch (frame.type) {
      case 'hello':
        return this.onHello(frame);
      case 'presence':
        return store.setPresence(frame.room, frame.users, frame.count);
      case 'presence_count':
        return store.setOnlineCount(frame.room, frame.count);
      case 'user_joined':
        return store.setOnline(frame.room, frame.user, true);
      case 'user_left':
        return store.setOnline(frame.room, frame.user, false);
      case 'user_updated':
        return store.updateProfile(frame.user);
      case 'event':
        return this.receive(frame.event.room, [frame.event]);
      case 'events':
        if (frame.ref !== undefined && this.resolveRequest(frame.ref, frame)) return;
        if (frame.reason === 'request') return; // the answer to a request that timed out
        this.receive(frame.room, frame.events);
        // The replay goes on where this part stopped.
        if (frame.hasMore) this.catchUp(frame.room, frame.through);
        return;
      case 'history':
        if (frame.ref !== undefined && this.resolveRequest(frame.ref, frame)) return;
        if (frame.reason !== 'initial') return;
        return this.takePage(frame.room, frame, 'replace');
      case 'resume_gap':
      case 'resume_ahead':
        return this.reload(frame.room);
      case 'ack':
        return this.onAck(frame);
      case 'typing':
        return store.setTyping(frame.room, frame.user, frame.expiresInMs);
      case 'read_state': {
        const queued = this.readQueue.get(frame.room);
        if (queued !== undefined && frame.readSeq >= queued) {
          this.readQueue.delete(frame.room);
          this.readSent.delete(frame.room);
        }
        return store.setReadState(frame.room, frame);
      }
      case 'membership_updated':
        this.settingsSeen.set(frame.room, (this.settingsSeen.get(frame.room) ?? 0) + 1);
        return store.setNotify(frame.room, frame.notify);
      case 'room_joined':
        store.joinRoom(frame.room);
        return this.flushOutbox();
      case 'room_left':
        store.leaveRoom(frame.room);
        this.membersWanted.delete(frame.room);
        return this.dropRoomChanges(frame.room);
      case 'error':
        return this.onErrorFrame(frame);
      case 'pong':
        return;
    }
  }

  private onHello(hello: HelloFrame): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.limits = { messageMaxChars: hello.limits.messageMaxChars, historyPageMax: hello.limits.historyPageMax };
    this.store.hello(hello.user, hello.rooms);
    // What this client held of rooms it did not resume is not resumable: start them at their end.
    for (const room of hello.rooms) if (!this.resumed.has(room.id)) this.store.rebase(room.id, room.lastSeq);
    this.reloadWantedMembers();
    this.attempt = 0;
    this.currentStatus = 'online';
    this.startHeartbeat();
    this.store.commit();
    this.events.emit('hello', hello);
    this.setStatus('online');
    this.flushReads();
    this.flushOutbox();
  }

  /** Events for the store; then settle the outbox and fetch whatever the events show is missing. */
  private receive(room: string, events: readonly RoomEvent[]): void {
    this.delivered(room, this.store.receive(room, events));
    const after = this.store.gapAfter(room);
    if (after !== null) this.catchUp(room, after);
  }

  /**
   * How many times the room's messages were replaced by a window (`loadAround`, `jumpToLatest`): a
   * page asked for before the last one is next to messages no longer held, and is dropped.
   */
  private readonly windows = new Map<string, number>();
  private windowOf(room: string): number {
    return this.windows.get(room) ?? 0;
  }

  private takePage(
    room: string,
    page: { messages: readonly Message[]; hasMore: boolean; hasNewer?: boolean; lastSeq: number; membership: readonly MembershipEvent[] },
    kind: 'replace' | 'newest' | 'older' | 'newer' | 'window',
  ): void {
    if (kind === 'window') this.windows.set(room, this.windowOf(room) + 1);
    const applied = this.store.applyPage(room, page, kind);
    if (kind === 'replace' || kind === 'window') this.events.emit('reset', { room });
    this.delivered(room, applied);
    this.outbox.settle(room, this.store.applied(room), (clientId) => this.holdsOwn(room, clientId));
    this.store.commit();
  }

  private delivered(room: string, events: RoomEvent[]): void {
    if (events.length === 0) return;
    this.store.commit();
    this.events.emit('events', { room, events });
    for (const e of events) if (e.kind === 'message_created') this.events.emit('message', e.message);
    this.outbox.settle(room, this.store.applied(room), (clientId) => this.holdsOwn(room, clientId));
    this.flushOutbox();
  }

  private holdsOwn(room: string, clientId: string): boolean {
    const me = this.store.self?.id;
    return this.store.room(room)?.messages.some((m) => m.author.id === me && m.clientId === clientId) ?? false;
  }

  /**
   * Page a room's log forward with `events` from `after` until nothing is missing: the rest of a
   * replay (`hasMore`), or the events behind a hole (a held event beyond a missing seq).
   */
  private catchUp(room: string, after: number): void {
    if (this.catchingUp.has(room) || this.currentStatus !== 'online') return;
    const run = {};
    this.catchingUp.set(room, run);
    const socket = this.socket;
    void (async () => {
      let from = after;
      try {
        for (;;) {
          const reply = await this.request({ type: 'events', room, after: from, limit: LIMITS.eventsPageMax });
          if (this.socket !== socket || reply.type !== 'events') return;
          this.delivered(room, this.store.receive(room, reply.events));
          this.store.commit();
          const gap = this.store.gapAfter(room);
          if (reply.hasMore && reply.through > from) from = reply.through;
          else if (gap !== null && gap > from) from = gap;
          else return;
        }
      } catch {
        // The connection dropped (resuming covers the same ground) or the room is gone.
      } finally {
        if (this.catchingUp.get(room) === run) this.catchingUp.delete(room);
      }
    })();
  }

  /**
   * The server cannot bring what we hold of the room up to date (too far behind, or ahead of its
   * log): drop it and load the room's newest page. Live events wait in the store meanwhile.
   */
  private reload(room: string): void {
    if (this.reloading.has(room)) return;
    this.store.resetRoom(room);
    this.reloadWantedMembers();
    this.reloading.add(room);
    const socket = this.socket;
    const limit = this.historyOnConnect > 0 ? this.historyOnConnect : LIMITS.historyOnConnect;
    this.requestHistory(room, { limit }).then(
      (page) => {
        if (this.socket !== socket) return;
        this.reloading.delete(room);
        this.takePage(room, page, 'replace');
        const after = this.store.gapAfter(room);
        if (after !== null) this.catchUp(room, after);
      },
      () => {
        // Offline: the next connection starts the room over (it is no longer loaded).
        if (this.socket === socket) this.reloading.delete(room);
      },
    );
  }

  private resolveRequest(ref: string, frame: ReplyFrame): boolean {
    const request = this.endRequest(ref);
    if (!request) return false;
    request.resolve(frame);
    return true;
  }

  private onAck(ack: AckFrame): void {
    if (this.inFlight.get(ack.room)?.clientId === ack.clientId) this.clearInFlight(ack.room);
    if (this.outbox.get(ack.clientId)) {
      // Nothing changed (a reaction already there), or the event is already applied: done.
      if (ack.seq === null || ack.seq <= this.store.applied(ack.room)) this.outbox.remove(ack.clientId);
      else this.outbox.markAcked(ack.clientId, ack.seq);
    }
    this.events.emit('ack', ack);
    this.flushOutbox();
  }

  private onErrorFrame(frame: ErrorFrame): void {
    if (frame.ref !== undefined) {
      const request = this.requests.get(frame.ref);
      if (request && frame.code === 'rate_limited') {
        // Asked too soon: the same request again once the server says it may be, within its timeout.
        const ref = frame.ref;
        const seconds = typeof frame.details?.retryAfter === 'number' ? frame.details.retryAfter : 1;
        if (this.requestOnWire === ref) this.requestOnWire = null;
        request.retry = setTimeout(() => {
          request.retry = null;
          this.requestQueue.unshift(ref);
          this.pumpRequests();
        }, Math.max(50, seconds * 1000));
        this.pumpRequests();
        return;
      }
      if (request) {
        this.endRequest(frame.ref);
        const fields = fieldsFrom(frame.details);
        request.reject(new ChatterApiError({ status: 0, code: frame.code, message: frame.message, ...(fields && { fields }), ...(frame.details && { details: frame.details }) }));
        return;
      }
    }
    // The session cookie signed the socket in before the auth frame arrived: nothing is wrong.
    if (frame.code === 'already_authenticated' && this.tokenTransport === 'frame') return;
    const item = frame.ref !== undefined ? this.outbox.get(frame.ref) : undefined;
    if (item) this.onChangeRejected(item, frame);
    this.events.emit('error', { code: frame.code, message: frame.message, ...(frame.ref !== undefined && { ref: frame.ref }) });
  }

  // ---- Outbox ----

  private onChangeRejected(item: PendingChange, frame: ErrorFrame): void {
    const { room, clientId } = item;
    if (this.inFlight.get(room)?.clientId === clientId) this.clearInFlight(room);
    if (TRANSIENT_CODES.has(frame.code)) {
      const seconds = typeof frame.details?.retryAfter === 'number' ? frame.details.retryAfter : frame.code === 'rate_limited' ? 1 : TRANSIENT_SEND_RETRY_MS / 1000;
      this.outbox.setState(clientId, 'pending');
      this.pause(room, Math.max(50, seconds * 1000));
    } else if (item.kind === 'send') {
      // validation_failed, room_not_found, room_archived...: resending the same thing cannot succeed.
      this.outbox.setState(clientId, 'failed', frame.message);
    } else {
      // An edit, delete or reaction that cannot happen (the message was deleted meanwhile, say):
      // nothing to retry; the `error` event tells the app.
      this.outbox.remove(clientId);
    }
    this.flushOutbox();
  }

  /** The user is no longer in a room: its changes can never be made. */
  private dropRoomChanges(room: string): void {
    this.clearInFlight(room);
    for (const item of this.outbox.list()) {
      if (item.room !== room) continue;
      if (item.kind === 'send') this.outbox.setState(item.clientId, 'failed', 'You are no longer in this room.');
      else this.outbox.remove(item.clientId);
    }
  }

  private pause(room: string, ms: number): void {
    const current = this.paused.get(room);
    if (current) clearTimeout(current);
    this.paused.set(
      room,
      setTimeout(() => {
        this.paused.delete(room);
        this.flushOutbox();
      }, ms),
    );
  }

  private clearInFlight(room: string): void {
    const entry = this.inFlight.get(room);
    if (entry) clearTimeout(entry.timer);
    this.inFlight.delete(room);
  }

  private flushReads(): void {
    if (this.currentStatus !== 'online') return;
    for (const [room, seq] of this.readQueue) {
      if (!this.store.room(room)) {
        this.readQueue.delete(room);
        this.readSent.delete(room);
        continue;
      }
      if ((this.readSent.get(room) ?? -1) >= seq) continue;
      if (this.sendRaw({ type: 'read', room, seq })) this.readSent.set(room, seq);
    }
  }

  /** Send the oldest pending change of each room, one at a time per room, each after the previous one's ack. */
  private flushOutbox(): void {
    if (this.currentStatus !== 'online' || !this.socket) return;
    for (const room of this.outbox.roomsWithPending()) {
      if (this.inFlight.has(room) || this.paused.has(room)) continue;
      const item = this.outbox.nextPending(room);
      if (!item) continue;
      const { clientId } = item;
      this.outbox.setState(clientId, 'sending');
      this.inFlight.set(room, {
        clientId,
        timer: setTimeout(() => {
          // No ack on a connection that still looks alive: send it again (the server dedupes by clientId).
          this.inFlight.delete(room);
          if (!this.outbox.isAcked(clientId)) this.outbox.setState(clientId, 'pending');
          this.flushOutbox();
        }, this.ackTimeoutMs),
      });
      if (!this.sendRaw(changeFrame(item))) {
        this.clearInFlight(room);
        this.outbox.setState(clientId, 'pending');
        return;
      }
    }
  }
}

function changeFrame(item: PendingChange): object {
  const { room, clientId } = item;
  switch (item.kind) {
    case 'send':
      return { type: 'send', room, clientId, text: item.text };
    case 'edit':
      return { type: 'edit', room, clientId, messageId: item.messageId, text: item.text };
    case 'delete':
      return { type: 'delete', room, clientId, messageId: item.messageId };
    case 'react':
      return { type: 'react', room, clientId, messageId: item.messageId, emoji: item.emoji, on: item.on };
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** `<base>/ws` for an http(s) base URL; a ws(s) URL is taken as the socket URL itself. */
function socketUrlFrom(base: string | undefined): string {
  const origin = base ?? (globalThis as { location?: { origin?: string } }).location?.origin;
  if (!origin) throw new TypeError('ChatterClient needs options.url outside a browser (for example http://127.0.0.1:8000).');
  const url = new URL(origin);
  if (url.protocol === 'ws:' || url.protocol === 'wss:') return url.toString();
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`Unsupported URL ${origin}: use http(s):// or ws(s)://.`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/ws`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

function randomClientId(): string {
  const bytes = new Uint8Array(16);
  const crypto = (globalThis as { crypto?: Crypto }).crypto;
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function decodeBytes(data: unknown): string {
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  if (Array.isArray(data)) return data.map(decodeBytes).join(''); // `ws` fragments
  return String(data);
}

function safeSend(socket: SocketLike, data: string): void {
  try {
    socket.send(data);
  } catch {
    // The close event that follows takes care of it.
  }
}

function safeClose(socket: SocketLike, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closing.
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
