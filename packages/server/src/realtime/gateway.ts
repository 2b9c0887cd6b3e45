import {
  CLOSE_CODES,
  LIMITS,
  PROTOCOL_VERSION,
  type AckFrame,
  type ClientFrame,
  type ErrorCode,
  type HelloFrame,
  type ResumeState,
} from '@chatter/protocol';
import { parseClientFrame } from '@chatter/protocol/validate';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { SESSION_COOKIE } from '../auth/routes.js';
import type { Authenticated } from '../auth/sessions.js';
import { access } from '../conversations/access.js';
import type { Outcome } from '../conversations/actions.js';
import { AppError } from '../errors.js';
import { addressKey, clientIp } from '../http/client-ip.js';
import { isAllowedOrigin } from '../http/origin.js';
import { publicUser, selfUser } from '../users/present.js';
import { Admission, type Reservation } from './admission.js';
import { FRAME_COSTS, UserBudgets, strike } from './budget.js';
import { Hub, type Connection } from './hub.js';
import { aroundReply } from './around-reply.js';
import { emptyEventsReply, eventsReply, historyReply } from './replies.js';
import { bearerToken, destroySocket, handshakeProblem, parseConnectParams, rejectUpgrade, releaseOnClose, type ConnectOptions } from './upgrade.js';

/**
 * The server's sockets know their connection and gateway, so that one shared listener per event
 * serves every socket: a closure per socket and event (with its context) would be paid for on each
 * of the many idle sockets a node holds.
 */
class ChatSocket extends WebSocket {
  gateway: Gateway | null = null;
  conn: Connection | null = null;
}


/**
 * The WebSocket endpoint at /ws: authenticates the upgrade, runs each socket's frames, keeps
 * heartbeats and session expiry, and hands delivery to the Hub.
 */
export class Gateway {
  readonly hub: Hub;
  private readonly wss: WebSocketServer;
  private accepting = true;
  private lastSessionCheck = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Sockets that have not authenticated yet (first-frame auth). */
  private readonly pending = new Set<WebSocket>();
  readonly budgets: UserBudgets;
  private readonly admission: Admission;

  constructor(private readonly app: FastifyInstance) {
    const { config } = app;
    this.hub = new Hub(
      app.bus,
      {
        sendBufferCap: config.sendBufferCap,
        presenceIntervalMs: config.presenceIntervalMs,
        presenceCountIntervalMs: config.presenceCountIntervalMs,
        presenceCountMaxIntervalMs: config.presenceCountMaxIntervalMs,
        fanoutPace: config.fanoutPace,
        fanoutPaceMinMs: config.fanoutPaceMinMs,
        fanoutPaceMaxMs: config.fanoutPaceMaxMs,
        fanoutChunk: config.fanoutChunk,
        closeGraceMs: config.closeGraceMs,
        presenceLeaveGraceMs: config.presenceLeaveGraceMs,
      },
      app.log,
    );
    this.budgets = new UserBudgets(config);
    this.admission = new Admission(config, this.budgets);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.maxFrameBytes, perMessageDeflate: false, clientTracking: false, WebSocket: ChatSocket });
    this.timers.push(setInterval(() => this.heartbeat(), config.heartbeatMs));
    this.timers.push(setInterval(() => this.budgets.sweep(), 60_000));
    this.timers.push(setInterval(() => void this.checkSessions(), Math.min(60_000, Math.max(1000, config.sessionTtlMs / 4))));
    // Expired sessions are refused on use anyway; this only keeps the table from growing forever.
    this.timers.push(
      setInterval(() => {
        app.store.purgeExpiredSessions(Date.now()).catch((err: unknown) => app.log.error({ err }, 'purging sessions failed'));
      }, 3_600_000),
    );
    for (const t of this.timers) t.unref();
  }

  /** Attached to the HTTP server's 'upgrade' event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A module-level listener, not a closure: a closure here would share this function's context
    // with `upgrade` below and keep the request, its headers and the token alive for the socket's
    // whole life (about 2 KB per connection).
    socket.on('error', destroySocket);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') return rejectUpgrade(socket, 404, 'not_found', 'No WebSocket endpoint here; use /ws.');
    const problem = handshakeProblem(req);
    if (problem) return rejectUpgrade(socket, 400, 'validation_failed', problem);
    if (!this.accepting) return rejectUpgrade(socket, 503, 'unavailable', 'The server is shutting down.');
    const origin = req.headers.origin;
    // Browsers always send Origin on WebSocket upgrades; a foreign one means another site is trying
    // to ride this user's cookie (cross-site WebSocket hijacking). Refused before any upgrade.
    if (origin !== undefined && !isAllowedOrigin(origin, req, this.app.config.allowedOrigins, this.app.config.trustProxy)) {
      this.app.log.warn({ origin }, 'refused WebSocket upgrade from foreign origin');
      return rejectUpgrade(socket, 403, 'forbidden_origin', 'Requests from this origin are not allowed.');
    }
    const reservation = this.admission.reserveIp(addressKey(clientIp(req, this.app.config)));
    if (!reservation) return rejectUpgrade(socket, 429, 'rate_limited', 'Too many connections from your address.', 10);
    releaseOnClose(socket, this.admission, reservation);
    // Counted as unauthenticated while its token is checked too: bad tokens cost a lookup each.
    if (!this.admission.reserveUnauthenticated(reservation)) {
      return rejectUpgrade(socket, 429, 'rate_limited', 'Too many connections are waiting to sign in; try again shortly.', 5);
    }
    const version = url.searchParams.get('v');
    const options = parseConnectParams(url.searchParams, this.app.config.historyOnConnect);
    const token = bearerToken(req) ?? url.searchParams.get('token') ?? this.app.parseCookie(req.headers.cookie ?? '')[SESSION_COOKIE];

    const upgrade = (auth: Authenticated | null) => {
      // Known before the upgrade, so refused with an HTTP answer a client can read.
      if (auth && !this.admission.signedIn(reservation, auth.user.id)) {
        return rejectUpgrade(socket, 429, 'rate_limited', `Too many connections for this user (at most ${this.app.config.maxSocketsPerUser}).`, 10);
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        if (version !== null && version !== String(PROTOCOL_VERSION)) {
          return ws.close(CLOSE_CODES.unsupported_protocol, `unsupported_protocol: this server speaks v${PROTOCOL_VERSION}`);
        }
        if (!options.ok) {
          return ws.close(CLOSE_CODES.bad_request, `bad_request: ${options.message}`.slice(0, 120));
        }
        if (token && !auth) return ws.close(CLOSE_CODES.unauthorized, 'unauthorized');
        if (auth) void this.start(ws, auth, options.value);
        else this.awaitAuthFrame(ws, options.value, reservation);
      });
    };

    if (!token) return upgrade(null);
    this.app.sessions.authenticate(token).then(upgrade, (err: unknown) => {
      this.app.log.error({ err }, 'authenticating WebSocket upgrade failed');
      rejectUpgrade(socket, 500, 'internal', 'Something went wrong on our side.');
    });
  }

  /** No credentials on the upgrade: the first frame must be `auth`, within the deadline. */
  private awaitAuthFrame(ws: WebSocket, defaults: ConnectOptions, reservation: Reservation): void {
    this.pending.add(ws);
    const timer = setTimeout(() => ws.close(CLOSE_CODES.auth_timeout, 'auth_timeout'), this.app.config.authTimeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      this.pending.delete(ws);
    };
    ws.on('close', cleanup);
    ws.on('error', () => ws.terminate());
    let refused = 0;
    const onFirst = async (data: RawData, isBinary: boolean) => {
      const parsed = isBinary ? null : parseClientFrame(data.toString());
      if (!parsed || !parsed.ok || parsed.frame.type !== 'auth') {
        // An anonymous socket gets a few answers, not one per frame for as long as it cares to send.
        if (++refused > this.app.config.rateLimitStrikes) return ws.close(CLOSE_CODES.rate_limited, 'rate_limited');
        const message = parsed && !parsed.ok ? parsed.message : 'Authenticate first: send {"type":"auth","token":"..."}.';
        ws.send(JSON.stringify({ type: 'error', code: parsed && !parsed.ok ? parsed.code : 'unauthorized', message }));
        return;
      }
      ws.off('message', onFirst);
      cleanup();
      const frame = parsed.frame;
      const auth = await this.app.sessions.authenticate(frame.token).catch(() => null);
      if (!auth) return ws.close(CLOSE_CODES.unauthorized, 'unauthorized');
      if (ws.readyState !== ws.OPEN) return;
      if (!this.admission.signedIn(reservation, auth.user.id)) {
        return ws.close(CLOSE_CODES.rate_limited, 'rate_limited: too many connections for this user');
      }
      void this.start(ws, auth, { history: frame.history ?? defaults.history, resume: frame.resume ?? defaults.resume });
    };
    ws.on('message', onFirst);
  }

  private async start(ws: WebSocket, auth: Authenticated, options: ConnectOptions): Promise<void> {
    const { hub, app } = this;
    if (ws.readyState !== ws.OPEN) return;
    const { config } = app;
    const conn = hub.createConnection(ws, publicUser(auth.user), auth.session.id, auth.session.expiresAt, config.frameBurst);
    // Shared listeners (see ChatSocket); pongs need none (see heartbeat).
    (ws as ChatSocket).gateway = this;
    (ws as ChatSocket).conn = conn;
    ws.on('message', Gateway.onSocketMessage);
    ws.on('error', ignoreSocketError);
    ws.on('close', Gateway.onSocketClose);

    // Live traffic waits until hello and the replies are out, so the client sees its rooms, then
    // what it missed, then live events, in order.
    hub.hold(conn);
    // Registered before its rooms are read, so that a membership change meanwhile is not lost.
    hub.register(conn);
    // The connect replay counts as the connection's one reply in flight.
    conn.busy = true;
    try {
      // Subscribed before the rooms are read (see connectRooms), so no event falls between the two.
      // The peer may have gone while we awaited; its close handler already removed it, and adding
      // it now would leave a dead socket, and a user stuck online, in the hub.
      const rooms = await app.conversations.connectRooms(auth.user.id, (ids) => {
        if (ws.readyState === ws.OPEN) hub.add(conn, ids);
      });
      if (ws.readyState !== ws.OPEN) return;
      // What the read holds (up to each lastSeq) is not sent again live.
      const subscribed = new Set(conn.rooms);
      for (const room of rooms) if (subscribed.has(room.id)) hub.markReplayed(conn, room.id, room.lastSeq);
      const hello: HelloFrame = {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        user: selfUser(auth.user),
        rooms,
        sessionExpiresAt: new Date(auth.session.expiresAt).toISOString(),
        serverTime: new Date().toISOString(),
        limits: {
          messageMaxChars: config.messageMaxChars,
          historyPageMax: LIMITS.historyPageMax,
          resumeMaxEvents: LIMITS.resumeMaxEvents,
          messagesPerSecond: config.messagesPerSecond,
          maxFrameBytes: config.maxFrameBytes,
        },
      };
      hub.send(conn, hello);
      conn.greeted = true;
      for (const room of conn.rooms) hub.sendPresence(conn, room);
      // The rooms just read answer, for each room resumed, what `access` would (a member, and its lastSeq).
      if (options.resume) await this.replay(conn, options.resume, new Map(rooms.map((r) => [r.id, r.lastSeq])));
      const resumed = options.resume ?? {};
      if (options.history > 0) {
        // The most recently active rooms first (listMyRooms' order), as many as the protocol says.
        const recent = rooms.filter((r) => !Object.hasOwn(resumed, r.id) && conn.rooms.includes(r.id)).slice(0, LIMITS.initialHistoryRooms);
        for (const room of recent) {
          const reply = await historyReply(app.store, room.id, { limit: options.history }, config.replyMaxBytes, 'initial');
          hub.sendSerialized(conn, reply.json);
          hub.markReplayed(conn, room.id, reply.lastSeq);
        }
      }
    } catch (err) {
      app.log.error({ err }, 'starting a connection failed');
      hub.close(conn, CLOSE_CODES.internal, 'internal');
    } finally {
      conn.busy = false;
      hub.release(conn);
    }
  }

  /**
   * Replay each room's log after the seq the client holds: all of it, or as much as one reply's
   * byte budget holds with `hasMore` (the client pages on with `events`). Further behind than
   * `LIMITS.resumeMaxEvents`: `resume_gap`. Rooms the user may not see are refused in one
   * `room_not_found` error frame, and public channels they are not in in one `not_a_member`, however
   * many were named: the same answers `access` gives every other frame.
   *
   * `mine`: each room the user is in with its lastSeq, read with the `hello` just sent; asking
   * `access` again for each resumed room would read the same two rows once more per room, on the
   * path every client of a reconnect storm takes. A room the socket has left since is asked again.
   */
  private async replay(conn: Connection, state: ResumeState, mine?: Map<string, number>): Promise<void> {
    const invisible: string[] = [];
    const notMember: string[] = [];
    for (const [room, afterSeq] of Object.entries(state) as [string, number][]) {
      let latestSeq = mine?.get(room);
      // Read with the hello, after the socket was subscribed: every later event reaches it live.
      const fromHello = latestSeq !== undefined && conn.rooms.includes(room);
      if (latestSeq === undefined || !fromHello) {
        const a = await access(this.app.store, conn.user.id, room);
        if (!a?.member) {
          (a ? notMember : invisible).push(room);
          continue;
        }
        latestSeq = a.room.lastSeq;
      }
      if (afterSeq > latestSeq) {
        this.hub.send(conn, { type: 'resume_ahead', room, afterSeq, latestSeq });
        continue;
      }
      if (latestSeq - afterSeq > LIMITS.resumeMaxEvents) {
        this.hub.send(conn, { type: 'resume_gap', room, afterSeq, latestSeq });
        continue;
      }
      // Nothing new since the hello's read (the common case for most rooms of a reconnect storm):
      // answered without reading the log, which would cost a transaction per room. Something new:
      // the hello's read of the room's lastSeq spares the shared tail of the log a refresh.
      const reply =
        afterSeq === latestSeq && mine?.get(room) === latestSeq
          ? emptyEventsReply(room, afterSeq, 'resume')
          : await eventsReply(this.app.eventFrames, room, afterSeq, LIMITS.resumeMaxEvents, this.app.config.replyMaxBytes, 'resume', undefined, fromHello ? latestSeq : undefined);
      this.hub.sendSerialized(conn, reply.json);
      this.hub.markReplayed(conn, room, reply.lastSeq);
    }
    this.refuseRooms(conn, 'room_not_found', invisible, (named) => `No room ${named}.`, (n, named) => `${n} of the rooms named do not exist (${named}).`);
    this.refuseRooms(conn, 'not_a_member', notMember, (named) => `You are not in room ${named}; join it first.`, (n, named) => `You are not in ${n} of the rooms named (${named}); join them first.`);
  }

  /** One error frame naming (up to five of) the rooms a resume was refused for. */
  private refuseRooms(conn: Connection, code: ErrorCode, rooms: string[], one: (named: string) => string, many: (n: number, named: string) => string): void {
    if (rooms.length === 0) return;
    const named = rooms.slice(0, 5).map((r) => `"${r}"`).join(', ') + (rooms.length > 5 ? ', ...' : '');
    this.sendError(conn, code, rooms.length === 1 ? one(named) : many(rooms.length, named), undefined, { rooms: rooms.slice(0, 5), count: rooms.length });
  }

  private static onSocketMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    const { gateway, conn } = this as ChatSocket;
    if (gateway && conn) gateway.onMessage(conn, data, isBinary);
  }

  /** Registered when the connection starts; reservations are released by `releaseOnClose`. */
  private static onSocketClose(this: WebSocket, code: number): void {
    const { gateway, conn } = this as ChatSocket;
    if (gateway && conn) gateway.hub.remove(conn, code);
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closing) return;
    if (Date.now() >= conn.expiresAt) return this.hub.close(conn, CLOSE_CODES.session_ended, 'session_expired');
    const parsed = isBinary ? null : parseClientFrame(data.toString());
    const frame = parsed?.ok ? parsed.frame : null;
    const ref = frame ? frameRef(frame) : parsed && !parsed.ok ? parsed.ref : undefined;
    const wait = this.budgets.chargeFrame(conn.frames, this.budgets.get(conn.user.id), FRAME_COSTS[frame?.type ?? 'invalid']);
    if (wait > 0) return this.refuse(conn, 'You are sending frames too fast.', wait, ref);
    if (!parsed) return this.sendError(conn, 'bad_frame', 'Frames must be JSON text, not binary.');
    if (!parsed.ok) {
      return this.sendError(conn, parsed.code, parsed.message, parsed.ref, parsed.fields && { fields: parsed.fields });
    }
    if (parsed.frame.type !== 'ping') conn.activeAt = Date.now();
    void this.dispatch(conn, parsed.frame).catch((err: unknown) => {
      this.app.log.error({ err, type: parsed.frame.type }, 'handling a frame failed');
      this.sendError(conn, 'internal', 'Something went wrong on our side.');
    });
  }

  private async dispatch(conn: Connection, frame: ClientFrame): Promise<void> {
    const { conversations, store, config } = this.app;
    switch (frame.type) {
      case 'send':
      case 'edit':
      case 'delete':
      case 'react': {
        // Once shutdown has begun, a new change could be stored after its socket is gone and never
        // be acked; refuse it instead (clients retry `unavailable` elsewhere or after the restart).
        if (!this.accepting) return this.sendError(conn, 'unavailable', 'The server is shutting down; send again shortly.', frame.clientId);
        const wait = this.budgets.chargeMessage(this.budgets.get(conn.user.id));
        if (wait > 0) return this.refuse(conn, 'You are sending changes too fast.', wait, frame.clientId);
        let outcome: Outcome;
        try {
          outcome =
            frame.type === 'send'
              ? await conversations.send(conn.user, frame.room, frame.clientId, frame.text)
              : frame.type === 'edit'
                ? await conversations.edit(conn.user, frame.room, frame.messageId, frame.text, frame.clientId)
                : frame.type === 'delete'
                  ? await conversations.delete(conn.user, frame.room, frame.messageId, frame.clientId)
                  : await conversations.react(conn.user, frame.room, frame.messageId, frame.emoji, frame.on, frame.clientId);
        } catch (err) {
          if (err instanceof AppError) return this.sendAppError(conn, err, frame.clientId);
          throw err;
        }
        this.hub.send(conn, ackFrame(frame.clientId, outcome));
        return;
      }
      case 'read': {
        try {
          await conversations.markRead(conn.user.id, frame.room, frame.seq);
        } catch (err) {
          if (err instanceof AppError) return this.sendAppError(conn, err);
          throw err;
        }
        return; // answered by read_state on every socket of the user, this one included
      }
      case 'typing': {
        try {
          await conversations.typing(conn.user, frame.room);
        } catch (err) {
          if (err instanceof AppError) return this.sendAppError(conn, err);
          throw err;
        }
        return;
      }
      case 'resume':
      case 'history':
      case 'events': {
        const ref = frame.type === 'resume' ? undefined : frame.ref;
        // Checked and claimed before any await, so requests on one socket are answered one at a time.
        if (!this.mayReply(conn, ref)) return;
        conn.busy = true;
        try {
          if (frame.type === 'resume') return await this.heldReplay(conn, frame.rooms);
          const a = await access(store, conn.user.id, frame.room);
          // History previews a public room; the log is its members' (like live events).
          if (!a) return this.sendError(conn, 'room_not_found', `No room "${frame.room}".`, ref);
          if (frame.type === 'events') {
            if (!a.member) return this.sendError(conn, 'not_a_member', 'Join the room first.', ref);
            const { room, after, limit = LIMITS.eventsPageMax } = frame;
            const reply = await eventsReply(this.app.eventFrames, room, after, limit, config.replyMaxBytes, 'request', ref);
            this.hub.sendSerialized(conn, reply.json);
            return;
          }
          const { room, before, after, around, limit = 50 } = frame;
          if (around !== undefined) {
            try {
              if (before !== undefined || after !== undefined) throw AppError.validation({ around: 'Not with before or after.' });
              this.hub.sendSerialized(conn, (await aroundReply(store, room, around, limit, config.replyMaxBytes, ref)).json);
            } catch (err) {
              if (err instanceof AppError) return this.sendAppError(conn, err, ref);
              throw err;
            }
            return;
          }
          const reply = await historyReply(store, room, { before, after, limit }, config.replyMaxBytes, 'request', ref);
          this.hub.sendSerialized(conn, reply.json);
        } finally {
          conn.busy = false;
        }
        return;
      }
      case 'ping':
        this.hub.send(conn, { type: 'pong', serverTime: new Date().toISOString(), ...(frame.ref !== undefined && { ref: frame.ref }) });
        return;
      case 'auth':
        return this.sendError(conn, 'already_authenticated', 'This connection is already signed in.');
    }
  }

  private async heldReplay(conn: Connection, rooms: ResumeState): Promise<void> {
    this.hub.hold(conn);
    try {
      await this.replay(conn, rooms);
    } finally {
      this.hub.release(conn);
    }
  }

  /**
   * A reply may be built only when none is in flight on the socket and what waits to go to it is
   * under `replyQueueMaxBytes`: checked before building, so a client that asks faster than it reads
   * is refused instead of growing its queue (and this process's heap) toward the send-buffer cap.
   */
  private mayReply(conn: Connection, ref: string | undefined): boolean {
    if (conn.busy) {
      this.refuse(conn, 'One history or resume request at a time: wait for the answer to the previous one.', 0.1, ref);
      return false;
    }
    const queued = this.hub.queuedBytes(conn);
    if (queued > this.app.config.replyQueueMaxBytes) {
      this.refuse(conn, 'Read what was sent before asking for more.', 1, ref);
      return false;
    }
    return true;
  }

  /**
   * A `rate_limited` error frame. A client that keeps sending after refusals collects strikes and,
   * past `rateLimitStrikes`, is disconnected with 4029 (it may reconnect after a backoff).
   */
  private refuse(conn: Connection, message: string, retryAfter: number, ref?: string): void {
    this.sendError(conn, 'rate_limited', message, ref, { retryAfter });
    if (strike(conn) > this.app.config.rateLimitStrikes) {
      this.app.log.warn({ userId: conn.user.id }, 'closing a connection that kept sending after rate_limited');
      this.hub.close(conn, CLOSE_CODES.rate_limited, 'rate_limited');
    }
  }

  private sendAppError(conn: Connection, error: AppError, ref?: string): void {
    this.sendError(conn, error.code, error.message, ref, error.details);
  }

  private sendError(conn: Connection, code: ErrorCode, message: string, ref?: string, details?: Record<string, unknown>): void {
    this.hub.send(conn, { type: 'error', code, message, ...(ref !== undefined && { ref }), ...(details && { details }) });
  }

  /**
   * Every `heartbeatMs`, ping each socket; one that has sent nothing at all since the previous ping
   * (not the pong, not any frame) is gone without a close and is cut off. Liveness is read from the
   * TCP socket's byte count rather than from a 'pong' listener, which would take an event slot on
   * every idle socket.
   */
  private heartbeat(): void {
    for (const conn of this.hub.connections) {
      if (conn.closing) continue;
      const read = bytesRead(conn.ws);
      if (read === conn.readAtPing) {
        this.app.log.debug({ userId: conn.user.id }, 'heartbeat timeout');
        conn.closing = true;
        conn.closeCode = CLOSE_CODES.heartbeat_timeout;
        conn.ws.terminate();
        continue;
      }
      conn.readAtPing = read;
      conn.ws.ping();
    }
  }

  /**
   * Sessions of open sockets: close those revoked elsewhere or expired, and slide the expiry of
   * those whose user did something since the last check. An idle tab does not keep its session
   * alive forever: the sliding window is about use, not about a socket being open.
   */
  private async checkSessions(): Promise<void> {
    const since = this.lastSessionCheck;
    this.lastSessionCheck = Date.now();
    const bySession = new Map<number, Connection[]>();
    for (const conn of this.hub.connections) {
      if (!conn.closing) bySession.set(conn.sessionId, [...(bySession.get(conn.sessionId) ?? []), conn]);
    }
    const now = Date.now();
    for (const [sessionId, conns] of bySession) {
      try {
        const session = await this.app.store.getSessionById(sessionId);
        if (!session || session.expiresAt <= now) {
          for (const conn of conns) this.hub.close(conn, CLOSE_CODES.session_ended, session ? 'session_expired' : 'session_ended');
          continue;
        }
        const active = conns.some((c) => c.activeAt >= since);
        const current = active ? await this.app.sessions.touch(session, now) : session;
        for (const conn of conns) conn.expiresAt = current.expiresAt;
      } catch (err) {
        this.app.log.error({ err }, 'checking sessions failed');
      }
    }
  }

  /**
   * Graceful shutdown: refuse new upgrades and sends, store and ack every send already accepted,
   * then flush and close every socket with 1001.
   */
  async shutdown(): Promise<void> {
    this.accepting = false;
    for (const t of this.timers) clearInterval(t);
    await this.app.conversations.drain();
    for (const ws of this.pending) ws.close(CLOSE_CODES.going_away, 'server_shutdown');
    this.hub.closeAll();
    // Give close frames a moment to reach peers; stragglers are terminated by the hub.
    const deadline = Date.now() + 2000;
    while (this.hub.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of this.hub.connections) conn.ws.terminate();
  }
}

/**
 * `ws` reports a peer's protocol violation (bad frame, oversized message) as 'error' and then
 * closes the socket itself, which runs the 'close' listener; an 'error' without a listener would
 * be thrown. Nothing else to do, so one shared listener serves every socket.
 */
function ignoreSocketError(): void {}

/**
 * Bytes received on the socket's TCP connection so far (`ws` keeps the net.Socket as `_socket`).
 * NaN if that ever changes: NaN equals nothing, so such a socket is never judged dead, where 0
 * would cut every socket off at the second heartbeat.
 */
function bytesRead(ws: WebSocket): number {
  return (ws as unknown as { _socket?: { bytesRead?: number } })._socket?.bytesRead ?? Number.NaN;
}

/** The `ref` a reply to this frame carries (a change's is its clientId). */
function frameRef(frame: ClientFrame): string | undefined {
  return 'clientId' in frame ? frame.clientId : 'ref' in frame ? frame.ref : undefined;
}

/** The one answer to a change: `messageId` and `createdAt` for a send. */
export function ackFrame(clientId: string, outcome: Outcome): AckFrame {
  const m = outcome.event?.kind === 'message_created' ? outcome.message : undefined;
  return {
    type: 'ack',
    clientId,
    room: outcome.room,
    seq: outcome.seq,
    duplicate: outcome.duplicate,
    ...(m && { messageId: m.id, createdAt: new Date(m.createdAt).toISOString() }),
  };
}
