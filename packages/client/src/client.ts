import {
  CLOSE_CODES,
  FATAL_CLOSE_CODES,
  LIMITS,
  PROTOCOL_VERSION,
  messageTextProblem,
  normalizeMessageText,
  decodeServerMessage,
  type AckFrame,
  type ErrorFrame,
  type HelloFrame,
  type HistoryFrame,
  type Message,
  type PresenceFrame,
  type PublicUser,
  type ResumeState,
  type RoomSummary,
  type SelfUser,
  type ServerFrame,
  type UserJoinedFrame,
  type UserLeftFrame,
  type UserUpdatedFrame,
} from '@chatter/protocol';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { ChatterApiError, fieldsFrom } from './errors.js';
import { Outbox, type OutboxStore, type PendingMessage } from './outbox.js';
import { RoomTimeline } from './timeline.js';

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

export interface HistoryEvent {
  room: string;
  messages: Message[];
  /**
   * `initial`: the room's recent messages on first connect, or after the server said it is behind
   * what the client held (`resume_ahead`): replace what you show for the room.
   * `resume`: messages missed while disconnected (or fetched to fill a gap): append them.
   * (`request` pages are returned by `requestHistory`, not emitted.)
   */
  reason: HistoryFrame['reason'];
  hasMore: boolean;
}

export interface ChatterClientEvents {
  status: StatusEvent;
  hello: HelloFrame;
  /** A live message. Together with `history` events, each message arrives exactly once, in seq order per room. */
  message: Message;
  history: HistoryEvent;
  /** The full list of users online in a room, whenever it changes. */
  /**
   * Who is online in a room, whenever it changes. `count` is exact; in a room with more than
   * `LIMITS.presenceListMax` online, `users` lists only some of them (the server does not announce
   * each arrival there), so show `count`, not `users.length`.
   */
  presence: { room: string; users: PublicUser[]; count: number };
  user_joined: UserJoinedFrame;
  user_left: UserLeftFrame;
  /** A user's public profile changed (their picture); `online()` lists and `user` are already updated. */
  user_updated: UserUpdatedFrame;
  ack: AckFrame;
  /** The whole outbox, whenever it changes. */
  outbox: PendingMessage[];
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
  /** Recent messages per room asked for on the first connect (0-100). Default 50. */
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
  /** Resend (same clientId) a message not acked after this long on a live connection. Default 10000. */
  ackTimeoutMs?: number;
  /** Reject `requestHistory` after this long without an answer. Default 15000. */
  requestTimeoutMs?: number;
  /** Persist the outbox (web: localStorage) so pending messages survive a reload. */
  outboxStore?: OutboxStore;
  /** Makes client message ids: 1-64 of `A-Z a-z 0-9 _ -`. Default: 128 random bits in hex. */
  clientIdFactory?: () => string;
  /** Source of randomness for the reconnect jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
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

interface HistoryRequest {
  frame: Record<string, unknown>;
  resolve: (page: { messages: Message[]; hasMore: boolean }) => void;
  reject: (err: ChatterApiError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Waiting to be sent again after a `rate_limited` refusal. */
  retry: ReturnType<typeof setTimeout> | null;
}

type Timer = ReturnType<typeof setTimeout>;

const clientIdPattern = new RegExp(LIMITS.clientIdPattern);
const roomIdPattern = new RegExp(LIMITS.roomIdPattern);
/** A send the server may accept later: wait this long, then try again. */
const TRANSIENT_SEND_RETRY_MS = 2000;

/**
 * A real-time connection to a Chatter server that survives disconnects: it reconnects with
 * backoff, resumes every room from the last message it holds, delivers each message once and in
 * order, and keeps an outbox that is resent (same clientId, so never doubled) until acked.
 */
export class ChatterClient {
  /** Used for the next connection attempt; set it after signing in again. */
  token: string | undefined;

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
  /** `history` asked for on the current connection (0 when resuming). */
  private connectionHistory = 0;

  private self: SelfUser | null = null;
  private roomList: RoomSummary[] = [];
  private limits = { messageMaxChars: LIMITS.messageMaxChars as number, historyPageMax: LIMITS.historyPageMax as number };
  private readonly timelines = new Map<string, RoomTimeline>();
  /** Live messages that arrived before their room's initial history (held so the snapshot cannot overwrite them). */
  private readonly beforeSnapshot = new Map<string, Message[]>();
  private readonly presence = new Map<string, Map<number, PublicUser>>();
  /** Exact online counts of rooms in count-only mode (a `presence_count` or a partial `presence`). */
  private readonly presenceCounts = new Map<string, number>();

  private readonly historyRequests = new Map<string, HistoryRequest>();
  /**
   * History requests waiting for their turn. The server answers one history or resume request per
   * connection at a time and refuses the others, so they go out one by one, in order.
   */
  private readonly historyQueue: string[] = [];
  /** The ref of the history request on the wire. */
  private historyOnWire: string | null = null;
  private nextRef = 1;
  /** Rooms being caught up by paging history forward; the value identifies the run. */
  private readonly filling = new Map<string, object>();
  /** The one unacked send on the wire: sends go one at a time so a rate-limited message cannot be overtaken. */
  private inFlight: { clientId: string; timer: Timer } | null = null;
  private sendPauseTimer: Timer | null = null;
  private removeEnvironmentListeners: (() => void) | null = null;

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
    this.outbox = new Outbox(opts.outboxStore, (items) => this.events.emit('outbox', items));
  }

  // ---- Public API ----

  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** The signed-in user, from the server's hello; null before the first hello. */
  get user(): SelfUser | null {
    return this.self;
  }

  /** The user's rooms, with `lastSeq` kept up to date as messages arrive. */
  get rooms(): RoomSummary[] {
    return this.roomList.map((r) => ({ ...r, lastSeq: Math.max(r.lastSeq, this.timelines.get(r.id)?.lastSeq ?? 0) }));
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
    this.presence.clear();
    this.presenceCounts.clear();
    if (wasActive || this.currentStatus !== 'offline') this.setStatus('offline');
  }

  /**
   * Queue a message. It is sent now if online, otherwise as soon as the connection is back; it
   * stays in the outbox until it appears in the room's stream. Throws `ChatterApiError`
   * (`validation_failed`) for a text the server would refuse (empty, too long, control characters)
   * or a bad room id. The text is normalised as the server does (`normalizeMessageText`), so the
   * pending copy shows exactly what will be stored.
   */
  send(room: string, text: string): PendingMessage {
    const normalized = normalizeMessageText(text);
    const fields: Record<string, string> = {};
    if (!roomIdPattern.test(room)) fields.room = 'Not a valid room id.';
    const problem = normalized === '' ? 'Type a message first.' : messageTextProblem(normalized, this.limits.messageMaxChars);
    if (problem) fields.text = problem;
    if (Object.keys(fields).length > 0) {
      throw new ChatterApiError({
        status: 0,
        code: 'validation_failed',
        message: Object.values(fields).join(' '),
        fields,
      });
    }
    const clientId = this.makeClientId();
    if (!clientIdPattern.test(clientId) || this.outbox.get(clientId)) {
      throw new TypeError(`clientIdFactory returned ${JSON.stringify(clientId)}: ids must be unique, 1-64 of A-Z a-z 0-9 _ -.`);
    }
    const item: PendingMessage = { clientId, room, text: normalized, createdAt: new Date().toISOString(), state: 'pending' };
    this.outbox.add(item);
    this.flushOutbox();
    return { ...(this.outbox.get(clientId) ?? item) };
  }

  /** Put a failed message back in the queue. Returns false when there is no such failed message. */
  retry(clientId: string): boolean {
    if (this.outbox.get(clientId)?.state !== 'failed') return false;
    this.outbox.setState(clientId, 'pending');
    this.flushOutbox();
    return true;
  }

  /**
   * Drop a message from the outbox (one that failed, or one the user no longer wants sent).
   * One already on the wire may still be stored and arrive. Returns whether it was in the outbox.
   */
  discard(clientId: string): boolean {
    if (this.inFlight?.clientId === clientId) this.clearInFlight();
    const removed = this.outbox.remove(clientId);
    this.flushOutbox();
    return removed;
  }

  /**
   * A page of a room's history over the socket (for infinite scroll: `{before: oldestSeq}`).
   * Rejects with `ChatterApiError` code `offline` when not connected, `timeout`, or the server's error.
   * The page is returned only, not emitted as an event.
   */
  requestHistory(room: string, q: { before?: number; after?: number; limit?: number } = {}): Promise<{ messages: Message[]; hasMore: boolean }> {
    if (this.currentStatus !== 'online' || !this.socket) {
      return Promise.reject(new ChatterApiError({ status: 0, code: 'offline', message: 'Not connected to the server.' }));
    }
    const ref = `h${this.nextRef++}`;
    const frame: Record<string, unknown> = { type: 'history', room, ref };
    if (q.before !== undefined) frame.before = q.before;
    if (q.after !== undefined) frame.after = q.after;
    if (q.limit !== undefined) frame.limit = q.limit;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.endHistoryRequest(ref);
        reject(new ChatterApiError({ status: 0, code: 'timeout', message: 'The server did not answer in time.' }));
      }, this.requestTimeoutMs);
      this.historyRequests.set(ref, { frame, resolve, reject, timer, retry: null });
      this.historyQueue.push(ref);
      this.pumpHistory();
    });
  }

  /** Put the next waiting history request on the wire, if none is there. */
  private pumpHistory(): void {
    while (this.historyOnWire === null && this.historyQueue.length > 0) {
      const ref = this.historyQueue.shift()!;
      const request = this.historyRequests.get(ref);
      if (!request) continue;
      this.historyOnWire = ref;
      if (!this.sendRaw(request.frame)) {
        this.endHistoryRequest(ref);
        request.reject(new ChatterApiError({ status: 0, code: 'offline', message: 'Not connected to the server.' }));
      }
    }
  }

  /** Forget a request (answered, failed or timed out) and let the next one go. */
  private endHistoryRequest(ref: string): HistoryRequest | undefined {
    const request = this.historyRequests.get(ref);
    this.historyRequests.delete(ref);
    if (request) {
      clearTimeout(request.timer);
      if (request.retry) clearTimeout(request.retry);
    }
    if (this.historyOnWire === ref) {
      this.historyOnWire = null;
      this.pumpHistory();
    }
    return request;
  }

  /** Users online in a room, as last reported by the server. */
  /** How many users are online in a room (exact even where `online()` lists only some). */
  onlineCount(room: string): number {
    return this.presenceCounts.get(room) ?? this.presence.get(room)?.size ?? 0;
  }

  online(room: string): PublicUser[] {
    return [...(this.presence.get(room)?.values() ?? [])];
  }

  /** The last seq delivered for a room (everything up to it has been delivered, nothing after it). */
  lastSeq(room: string): number {
    return this.timelines.get(room)?.lastSeq ?? 0;
  }

  pending(): PendingMessage[] {
    return this.outbox.list();
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
    // Rooms that never got their initial history are started over rather than resumed.
    for (const [room, timeline] of this.timelines) {
      if (!timeline.snapshotDone) {
        this.timelines.delete(room);
        this.beforeSnapshot.delete(room);
      }
    }
    const resume: ResumeState = {};
    for (const [room, timeline] of this.timelines) resume[room] = timeline.lastSeq;
    const resuming = Object.keys(resume).length > 0;
    this.connectionHistory = resuming ? 0 : this.historyOnConnect;

    const url = new URL(this.socketUrl);
    url.searchParams.set('v', String(PROTOCOL_VERSION));
    url.searchParams.set('history', String(this.connectionHistory));
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
      const auth: Record<string, unknown> = { type: 'auth', token, history: this.connectionHistory };
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
    if (this.sendPauseTimer) clearTimeout(this.sendPauseTimer);
    this.sendPauseTimer = null; // the rate limit is per connection
    this.clearInFlight();
    this.outbox.requeueUnacked();
    this.filling.clear();
    this.historyQueue.length = 0;
    this.historyOnWire = null;
    for (const [ref, request] of this.historyRequests) {
      clearTimeout(request.timer);
      if (request.retry) clearTimeout(request.retry);
      this.historyRequests.delete(ref);
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
      this.events.emit('frame', frame);
    }
  }

  private handleFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'hello':
        return this.onHello(frame);
      case 'presence':
        return this.onPresence(frame);
      case 'presence_count':
        this.presenceCounts.set(frame.room, frame.count);
        return this.emitPresence(frame.room);
      case 'user_joined': {
        this.presenceOf(frame.room).set(frame.user.id, frame.user);
        this.events.emit('user_joined', frame);
        return this.emitPresence(frame.room);
      }
      case 'user_left': {
        this.presenceOf(frame.room).delete(frame.user.id);
        this.events.emit('user_left', frame);
        return this.emitPresence(frame.room);
      }
      case 'message':
        return this.onLiveMessage(frame.message);
      case 'ack':
        return this.onAck(frame);
      case 'history':
        return this.onHistory(frame);
      case 'resume_gap':
        // Further behind than the server replays: page forward from what we hold.
        return this.fill(frame.room);
      case 'resume_ahead':
        return this.reload(frame.room, frame.latestSeq);
      case 'error':
        return this.onErrorFrame(frame);
      case 'user_updated':
        return this.onUserUpdated(frame);
      case 'pong':
        return;
    }
  }

  private onHello(hello: HelloFrame): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.self = hello.user;
    this.limits = { messageMaxChars: hello.limits.messageMaxChars, historyPageMax: hello.limits.historyPageMax };
    this.roomList = hello.rooms.map((r) => ({ ...r }));
    for (const room of hello.rooms) {
      if (this.timelines.has(room.id)) continue;
      // A room not resumed starts at its current end; its recent messages come as `initial` history if asked for.
      const timeline = new RoomTimeline(room.id, room.lastSeq);
      timeline.snapshotDone = this.connectionHistory === 0;
      this.timelines.set(room.id, timeline);
    }
    this.attempt = 0;
    this.currentStatus = 'online';
    this.startHeartbeat();
    this.events.emit('hello', hello);
    this.setStatus('online');
    this.flushOutbox();
  }

  private onPresence(frame: PresenceFrame): void {
    this.presence.set(frame.room, new Map(frame.users.map((u) => [u.id, u])));
    // A partial list (large room): the count comes from the server, not from the list.
    if (frame.count > frame.users.length) this.presenceCounts.set(frame.room, frame.count);
    else this.presenceCounts.delete(frame.room);
    this.emitPresence(frame.room);
  }

  private onUserUpdated(frame: UserUpdatedFrame): void {
    const { user } = frame;
    if (this.self?.id === user.id) this.self = { ...this.self, username: user.username, avatarUrl: user.avatarUrl };
    const rooms: string[] = [];
    for (const [room, users] of this.presence) {
      if (users.has(user.id)) {
        users.set(user.id, user);
        rooms.push(room);
      }
    }
    this.events.emit('user_updated', frame);
    for (const room of rooms) this.emitPresence(room);
  }

  private presenceOf(room: string): Map<number, PublicUser> {
    let users = this.presence.get(room);
    if (!users) this.presence.set(room, (users = new Map()));
    return users;
  }

  private emitPresence(room: string): void {
    this.events.emit('presence', { room, users: this.online(room), count: this.onlineCount(room) });
  }

  private timelineFor(room: string, firstSeq: number): RoomTimeline {
    let timeline = this.timelines.get(room);
    if (!timeline) {
      // A room we were not told about: its stream starts with the first message we see.
      timeline = new RoomTimeline(room, Math.max(0, firstSeq - 1));
      timeline.snapshotDone = true;
      this.timelines.set(room, timeline);
    }
    return timeline;
  }

  private onLiveMessage(message: Message): void {
    const timeline = this.timelineFor(message.room, message.seq);
    if (!timeline.snapshotDone) {
      const early = this.beforeSnapshot.get(message.room) ?? [];
      early.push(message);
      this.beforeSnapshot.set(message.room, early);
      return;
    }
    this.deliver(timeline, timeline.accept([message]), 'message', false);
    if (timeline.hasGap) this.fill(message.room);
  }

  private onHistory(frame: HistoryFrame): void {
    if (frame.ref !== undefined) {
      const request = this.endHistoryRequest(frame.ref);
      if (request) {
        request.resolve({ messages: frame.messages, hasMore: frame.hasMore });
        return;
      }
    }
    if (frame.reason === 'request') return; // an answer to a request that timed out
    const timeline = this.timelineFor(frame.room, frame.messages[0]?.seq ?? 1);
    if (frame.reason === 'initial' && !timeline.snapshotDone) {
      timeline.snapshotDone = true;
      const early = timeline.advanceTo(frame.messages.at(-1)?.seq ?? 0);
      this.events.emit('history', { room: frame.room, messages: frame.messages, reason: 'initial', hasMore: frame.hasMore });
      this.outbox.settle(frame.room, timeline.lastSeq, frame.messages, this.self?.id);
      const held = this.beforeSnapshot.get(frame.room) ?? [];
      this.beforeSnapshot.delete(frame.room);
      this.deliver(timeline, [...early, ...timeline.accept(held)], 'message', false);
      if (timeline.hasGap) this.fill(frame.room);
      return;
    }
    this.deliver(timeline, timeline.accept(frame.messages), 'resume', frame.hasMore);
    if (frame.hasMore || timeline.hasGap) this.fill(frame.room);
  }

  /**
   * The server's log ends before what we hold of the room (its database was restored, or this is
   * another server): what we hold cannot be resumed. Start the room over as on a first connect: its
   * recent history comes as an `initial` event (replace what you show), then live messages.
   */
  private reload(room: string, latestSeq: number): void {
    const timeline = new RoomTimeline(room, 0);
    this.timelines.set(room, timeline); // snapshotDone is false: live messages wait for the snapshot
    this.beforeSnapshot.delete(room);
    this.filling.delete(room);
    const socket = this.socket;
    const limit = this.historyOnConnect > 0 ? this.historyOnConnect : LIMITS.historyOnConnect;
    this.requestHistory(room, { limit }).then(
      (page) => {
        if (this.socket === socket) this.onHistory({ type: 'history', room, messages: page.messages, hasMore: page.hasMore, reason: 'initial' });
      },
      () => {
        // Still connected (a timeout): carry on from the server's end rather than hold the room forever.
        if (this.socket !== socket || this.timelines.get(room) !== timeline) return;
        timeline.snapshotDone = true;
        const held = this.beforeSnapshot.get(room) ?? [];
        this.beforeSnapshot.delete(room);
        timeline.advanceTo(latestSeq);
        this.deliver(timeline, timeline.accept(held), 'message', false);
      },
    );
  }

  /** Hand newly contiguous messages to the app, then settle the outbox entries they complete. */
  private deliver(timeline: RoomTimeline, messages: Message[], as: 'message' | 'resume', hasMore: boolean): void {
    if (messages.length === 0) return;
    if (as === 'message') for (const m of messages) this.events.emit('message', m);
    else this.events.emit('history', { room: timeline.room, messages, reason: 'resume', hasMore });
    this.outbox.settle(timeline.room, timeline.lastSeq, messages, this.self?.id);
    this.flushOutbox();
  }

  /**
   * Page a room forward from the last delivered seq until the server has nothing newer: fills
   * the hole before a held live message, or catches up after `resume_gap`.
   */
  private fill(room: string): void {
    if (this.filling.has(room) || this.currentStatus !== 'online') return;
    const run = {};
    this.filling.set(room, run);
    const socket = this.socket;
    void (async () => {
      try {
        for (;;) {
          const timeline = this.timelines.get(room);
          if (!timeline) return;
          const page = await this.requestHistory(room, { after: timeline.lastSeq, limit: this.limits.historyPageMax });
          if (this.socket !== socket) return;
          const delivered = timeline.accept(page.messages);
          this.deliver(timeline, delivered, 'resume', page.hasMore);
          if (page.hasMore && page.messages.length > 0) continue;
          if (!timeline.hasGap) return;
          // The server has no more, yet messages are still held after a hole: the hole is real.
          if (delivered.length === 0) this.deliver(timeline, timeline.skipGap(), 'resume', false);
          if (!timeline.hasGap) return;
        }
      } catch {
        // The connection dropped; resuming on reconnect covers the same ground.
      } finally {
        if (this.filling.get(room) === run) this.filling.delete(room);
      }
    })();
  }

  private onAck(ack: AckFrame): void {
    if (this.inFlight?.clientId === ack.clientId) this.clearInFlight();
    if (this.outbox.get(ack.clientId)) {
      const timeline = this.timelines.get(ack.room);
      this.outbox.markAcked(ack.clientId, ack.seq);
      // Already delivered (a duplicate ack after a resume, say): nothing left to wait for.
      if (!timeline || ack.seq <= timeline.lastSeq) this.outbox.remove(ack.clientId);
    }
    this.events.emit('ack', ack);
    this.flushOutbox();
  }

  private onErrorFrame(frame: ErrorFrame): void {
    if (frame.ref !== undefined) {
      const request = this.historyRequests.get(frame.ref);
      if (request && frame.code === 'rate_limited') {
        // Asked too soon: the same request again once the server says it may be, within its timeout.
        const ref = frame.ref;
        const seconds = typeof frame.details?.retryAfter === 'number' ? frame.details.retryAfter : 1;
        if (this.historyOnWire === ref) this.historyOnWire = null;
        request.retry = setTimeout(() => {
          request.retry = null;
          this.historyQueue.unshift(ref);
          this.pumpHistory();
        }, Math.max(50, seconds * 1000));
        this.pumpHistory();
        return;
      }
      if (request) {
        this.endHistoryRequest(frame.ref);
        const fields = fieldsFrom(frame.details);
        request.reject(new ChatterApiError({ status: 0, code: frame.code, message: frame.message, ...(fields && { fields }), ...(frame.details && { details: frame.details }) }));
        return;
      }
    }
    // The session cookie signed the socket in before the auth frame arrived: nothing is wrong.
    if (frame.code === 'already_authenticated' && this.tokenTransport === 'frame') return;
    const item = frame.ref !== undefined ? this.outbox.get(frame.ref) : undefined;
    if (item) this.onSendRejected(item, frame);
    this.events.emit('error', { code: frame.code, message: frame.message, ...(frame.ref !== undefined && { ref: frame.ref }) });
  }

  // ---- Outbox ----

  private onSendRejected(item: PendingMessage, frame: ErrorFrame): void {
    if (this.inFlight?.clientId === item.clientId) this.clearInFlight();
    if (frame.code === 'rate_limited') {
      const seconds = typeof frame.details?.retryAfter === 'number' ? frame.details.retryAfter : 1;
      this.outbox.setState(item.clientId, 'pending');
      this.pauseSending(Math.max(50, seconds * 1000));
    } else if (frame.code === 'internal' || frame.code === 'unavailable') {
      this.outbox.setState(item.clientId, 'pending');
      this.pauseSending(TRANSIENT_SEND_RETRY_MS);
    } else {
      // validation_failed, room_not_found, forbidden...: resending the same thing cannot succeed.
      this.outbox.setState(item.clientId, 'failed', frame.message);
    }
    this.flushOutbox();
  }

  private pauseSending(ms: number): void {
    if (this.sendPauseTimer) clearTimeout(this.sendPauseTimer);
    this.sendPauseTimer = setTimeout(() => {
      this.sendPauseTimer = null;
      this.flushOutbox();
    }, ms);
  }

  private clearInFlight(): void {
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = null;
  }

  /** Send the oldest pending message, one at a time, each after the previous one's ack. */
  private flushOutbox(): void {
    if (this.currentStatus !== 'online' || !this.socket || this.inFlight || this.sendPauseTimer) return;
    const item = this.outbox.nextPending();
    if (!item) return;
    const { clientId } = item;
    this.outbox.setState(clientId, 'sending');
    this.inFlight = {
      clientId,
      timer: setTimeout(() => {
        // No ack on a connection that still looks alive: send it again (the server dedupes by clientId).
        this.inFlight = null;
        if (!this.outbox.isAcked(clientId)) this.outbox.setState(clientId, 'pending');
        this.flushOutbox();
      }, this.ackTimeoutMs),
    };
    if (!this.sendRaw({ type: 'send', room: item.room, clientId, text: item.text })) {
      this.clearInFlight();
      this.outbox.setState(clientId, 'pending');
    }
  }
}

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
