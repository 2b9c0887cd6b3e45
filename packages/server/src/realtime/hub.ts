import { CLOSE_CODES, FATAL_CLOSE_CODES, FRAME_SEPARATOR, LIMITS, type PresenceCountFrame, type PresenceFrame, type PublicUser, type ServerFrame, type UserJoinedFrame, type UserLeftFrame } from '@chatter/protocol';
import type { FastifyBaseLogger } from 'fastify';
import { getDefaultHighWaterMark } from 'node:stream';
import * as wsModule from 'ws';
import { WebSocket } from 'ws';
import type { BusEvent, FanoutBus } from '../bus/types.js';
import { fullBucket, type Bucket } from './budget.js';

/** One authenticated socket. */
export interface Connection {
  readonly id: number;
  readonly ws: WebSocket;
  /** Replaced when the user's profile changes (`user_updated` on the bus). */
  user: PublicUser;
  readonly sessionId: number;
  expiresAt: number;
  /** Rooms this socket is in: a short list, cheaper per socket than a Set. */
  rooms: string[];
  /** Frames for this socket alone (acks, replies), serialized (or already framed and shared), waiting for the end of the turn. */
  out: (string | SharedFrame)[];
  /** While > 0, room traffic is parked in `held` so that replayed history goes out first. */
  holdDepth: number;
  held: RoomBatch[];
  /**
   * Per room, the newest seq this socket already received in a history replay. Live messages at
   * or below it are repeats (stored between subscribing and reading the log) and are skipped.
   */
  replayedTo: Map<string, number> | null;
  /**
   * Membership changes for the user that arrived between `register` and `add` (while the socket's
   * rooms were being read), applied in order by `add`; null once the socket is in its rooms.
   */
  pendingMembership: { room: string; joined: boolean; seq?: number }[] | null;
  /** Bytes read from the peer when the last heartbeat ping went out (see the gateway's heartbeat). */
  readAtPing: number;
  closing: boolean;
  /** The code this server closed the socket with (0 while it has not): the peer's own close says nothing of why. */
  closeCode: number;
  /**
   * `hello` went out: the client knows it was connected and will come back. Only such a connection,
   * lost, keeps its user online for the leave grace; one that dies while being set up never told
   * its client anything, so its user is announced gone at once.
   */
  greeted: boolean;
  /** Last time the user did something on this socket (any frame but ping); slides the session. */
  activeAt: number;
  /** This connection's frame budget (the user's is in the gateway's UserBudgets). */
  frames: Bucket;
  /** Refusals collected, as of `struckAt` (see `strike` in budget.ts). */
  strikes: number;
  struckAt: number;
  /** A history or resume reply is being built for this socket (at most one at a time). */
  busy: boolean;
  /**
   * A write to this socket may have left a backlog: the last raw write found its buffer at its
   * high-water mark, or a write went through `ws` (whose queue says nothing back). Until the backlog
   * is gone, `tooSlow` measures it before each write; otherwise it need not (see `tooSlow`).
   */
  backedUp: boolean;
}

/**
 * The hub owns this node's sockets. It receives room events from the bus and writes them out.
 *
 * Writes are coalesced per event-loop turn: every frame queued for a room during a turn is joined
 * (newline-separated) into ONE payload, encoded to bytes ONCE, and that same buffer is written to
 * every socket in the room. Under load that is one write per socket per turn instead of one per
 * socket per message, which is where a chat server spends its CPU.
 */
export class Hub {
  private readonly rooms = new Map<string, Set<Connection>>();
  /** Each user's sockets on this node: for frames to one user and membership changes. */
  private readonly byUser = new Map<number, Set<Connection>>();
  /** room -> userId -> this user's sockets in the room (an entry with none is departing: see `departures`). */
  private readonly online = new Map<string, Map<number, OnlineEntry>>();
  /**
   * Users whose last socket in a room closed, oldest first, announced gone only once
   * `presenceLeaveGraceMs` has passed without them coming back. Read from `departuresHead` on (a
   * queue without a shift per departure: a storm drops tens of thousands at once).
   */
  private departures: Departure[] = [];
  private departuresHead = 0;
  private departureTimer: NodeJS.Timeout | null = null;
  private departureTokens = 0;
  private readonly roomOut = new Map<string, { frames: string[]; seqs: number[] }>();
  /** Rooms whose last write round was long enough to pace the next one (see `flush`). */
  private readonly roomPace = new Map<string, RoomPace>();
  /** Large rooms whose round of writes is under way over several turns (see `flush`). */
  private readonly rounds = new Map<string, Round>();
  private readonly dirty = new Set<Connection>();
  private flushScheduled = false;
  /**
   * Presence changes not yet announced: room -> userId -> net change. Announcing each join to the
   * whole room at once costs O(N) per connect, O(N^2) for a reconnect storm; instead changes are
   * gathered for `presenceIntervalMs` and announced together (one write per socket per window).
   * A leave and a re-join inside one window cancel out, so a quick reconnect is not announced.
   */
  private readonly presencePending = new Map<string, Map<number, { kind: 'user_joined' | 'user_left'; user: PublicUser; at: string }>>();
  private presenceTimer: NodeJS.Timeout | null = null;
  /** Rooms announced in count-only mode (more than LIMITS.presenceListMax online), with the count last sent. */
  private readonly largeRooms = new Map<string, number>();
  /** Per large room, when its count may be announced again (see `announceCount`). */
  private readonly countNextAt = new Map<string, number>();
  /** Large rooms whose new count waits for its time; `countTimer` runs at the earliest. */
  private readonly countsDeferred = new Set<string>();
  private countTimer: NodeJS.Timeout | null = null;
  private countTimerAt = 0;
  /**
   * The serialized `presence` frame of each room, shared by every newcomer until who is online there
   * changes (a small room, whose list is exact) or until the next presence batch (a large one, whose
   * list is partial and whose count is the one last announced: see `announceCount`). In a reconnect storm, where nobody's
   * presence changes (see `departures`), every returning member of a room gets the same string.
   */
  private readonly snapshots = new Map<string, SharedFrame>();
  private nextId = 1;
  readonly connections = new Set<Connection>();
  private readonly unsubscribe: () => void;

  /** A raw write that returns true leaves less than the cap unsent (see `tooSlow`). */
  private readonly writesTellBacklog: boolean;

  constructor(
    private readonly bus: FanoutBus,
    private readonly options: HubOptions,
    private readonly log: FastifyBaseLogger,
  ) {
    this.unsubscribe = bus.subscribe((event) => this.onBusEvent(event));
    this.writesTellBacklog = options.sendBufferCap >= getDefaultHighWaterMark(false);
  }

  createConnection(ws: WebSocket, user: PublicUser, sessionId: number, expiresAt: number, burst: number): Connection {
    return {
      id: this.nextId++,
      ws,
      user,
      sessionId,
      expiresAt,
      rooms: [],
      out: [],
      holdDepth: 0,
      held: [],
      replayedTo: null,
      pendingMembership: null,
      readAtPing: -1,
      closing: false,
      closeCode: 0,
      greeted: false,
      activeAt: Date.now(),
      frames: fullBucket(burst, Date.now()),
      strikes: 0,
      struckAt: 0,
      busy: false,
      backedUp: false,
    };
  }

  /**
   * Register a socket with its user before its rooms are read: membership changes and frames for
   * the user that arrive meanwhile are kept (`pendingMembership`, `held`) and applied by `add`.
   */
  register(conn: Connection): void {
    this.connections.add(conn);
    let sockets = this.byUser.get(conn.user.id);
    if (!sockets) this.byUser.set(conn.user.id, (sockets = new Set()));
    sockets.add(conn);
    conn.pendingMembership = [];
  }

  /**
   * Put a registered socket in its rooms (read after `register`), then apply the membership changes
   * that arrived while they were read, in order: a removal that raced the read still removes.
   */
  add(conn: Connection, rooms: string[]): void {
    // One array of the exact size for the rooms read (a user may be in hundreds), not one per room.
    const added = [...new Set(rooms)].filter((room) => !conn.rooms.includes(room));
    conn.rooms = conn.rooms.concat(added);
    for (const room of added) this.subscribe(conn, room);
    const pending = conn.pendingMembership ?? [];
    conn.pendingMembership = null;
    for (const m of pending) {
      if (m.joined) this.joinRoom(conn, m.room, m.seq);
      else this.leaveRoom(conn, m.room);
    }
  }

  /** Subscribe one socket to a room it was not in (a membership change while it is open). */
  private joinRoom(conn: Connection, room: string, seq?: number): void {
    if (conn.rooms.includes(room)) return;
    conn.rooms = conn.rooms.concat(room);
    // Events of this turn queued before the one that added the user are not theirs to see.
    if (seq !== undefined && seq > 0) this.markReplayed(conn, room, seq - 1);
    this.subscribe(conn, room);
  }

  /** Put the socket in the room's index; announces the user in it if this is their first socket there. */
  private subscribe(conn: Connection, room: string): void {
    let members = this.rooms.get(room);
    if (!members) this.rooms.set(room, (members = new Set()));
    members.add(conn);
    let users = this.online.get(room);
    if (!users) this.online.set(room, (users = new Map()));
    const entry = users.get(conn.user.id);
    // Back before their departure was announced: to the others they never left.
    if (entry) {
      if (entry.sockets++ === 0) entry.departure = 0;
    } else {
      users.set(conn.user.id, { user: conn.user, sockets: 1, departure: 0 });
      this.notePresence(room, 'user_joined', conn.user);
    }
  }

  /** Unsubscribe one socket from a room at once, dropping what it still holds of it. */
  private leaveRoom(conn: Connection, room: string): void {
    const at = conn.rooms.indexOf(room);
    if (at === -1) return;
    conn.rooms = conn.rooms.filter((r) => r !== room);
    if (conn.held.length > 0) conn.held = conn.held.filter((b) => b.room !== room);
    conn.replayedTo?.delete(room);
    // No longer a member: gone from the room's presence at once, not after a grace.
    this.unsubscribeRoom(conn, room, false);
  }

  /**
   * Forget a closed socket; announces the user gone from rooms where it was their last socket: at
   * once when the close was meant (a close frame from the client, or a reason the client cannot
   * reconnect from), after `presenceLeaveGraceMs` when the connection was lost and may come back
   * (see `departures`). `peerCode` is the close code `ws` reports (1006: no close frame).
   */
  remove(conn: Connection, peerCode: number): void {
    if (!this.connections.delete(conn)) return;
    this.dirty.delete(conn);
    const sockets = this.byUser.get(conn.user.id);
    sockets?.delete(conn);
    if (sockets?.size === 0) this.byUser.delete(conn.user.id);
    const lost = conn.greeted && (conn.closeCode === 0 ? peerCode === ABNORMAL_CLOSURE : !FATAL_CLOSE_CODES.includes(conn.closeCode));
    for (const room of conn.rooms) this.unsubscribeRoom(conn, room, lost);
  }

  /** `depart`: the connection was lost, so a user left with no socket in the room may yet come back (see `departures`). */
  private unsubscribeRoom(conn: Connection, room: string, depart: boolean): void {
    const members = this.rooms.get(room);
    members?.delete(conn);
    if (members?.size === 0) {
      // Nobody left to write to: a round waiting for its turn is dropped with its timer (whoever
      // joins next reads those messages from the log).
      this.rooms.delete(room);
      this.roomOut.delete(room);
      const pace = this.roomPace.get(room);
      if (pace?.timer) clearTimeout(pace.timer);
      this.roomPace.delete(room);
    }
    const users = this.online.get(room);
    const entry = users?.get(conn.user.id);
    if (!users || !entry || entry.sockets === 0) return;
    if (--entry.sockets > 0) return;
    if (depart && this.options.presenceLeaveGraceMs > 0) {
      entry.departure = ++this.departureTokens;
      this.departures.push({ room, userId: conn.user.id, entry, token: entry.departure, at: performance.now() });
      this.departureTimer ??= this.armDepartures();
      return;
    }
    this.goOffline(room, users, conn.user.id, entry);
  }

  private goOffline(room: string, users: Map<number, OnlineEntry>, userId: number, entry: OnlineEntry): void {
    users.delete(userId);
    if (users.size === 0) this.online.delete(room);
    this.notePresence(room, 'user_left', entry.user);
  }

  private armDepartures(): NodeJS.Timeout {
    const first = this.departures[this.departuresHead]!;
    const wait = Math.max(0, first.at + this.options.presenceLeaveGraceMs - performance.now());
    const timer = setTimeout(() => this.sweepDepartures(), wait);
    timer.unref();
    return timer;
  }

  /**
   * Announce, with the next presence batch, the users whose grace ran out with no socket back in the
   * room. A departure whose user came back (and perhaps left again: a newer one is queued) is skipped.
   */
  private sweepDepartures(): void {
    this.departureTimer = null;
    const limit = performance.now() - this.options.presenceLeaveGraceMs;
    const queue = this.departures;
    let head = this.departuresHead;
    for (; head < queue.length && queue[head]!.at <= limit; head++) {
      const { room, userId, entry, token } = queue[head]!;
      const users = this.online.get(room);
      if (entry.departure !== token || users?.get(userId) !== entry) continue;
      this.goOffline(room, users, userId, entry);
    }
    if (head === queue.length) {
      this.departures = [];
      this.departuresHead = 0;
      return;
    }
    // Compact once the consumed part dominates, so the array does not grow with every departure ever.
    if (head > 1024 && head * 2 > queue.length) {
      this.departures = queue.slice(head);
      head = 0;
    }
    this.departuresHead = head;
    this.departureTimer = this.armDepartures();
  }

  private notePresence(room: string, kind: 'user_joined' | 'user_left', user: PublicUser): void {
    // A small room's snapshot lists everyone exactly; a large one's holds until the next batch.
    if (!this.largeRooms.has(room)) this.snapshots.delete(room);
    let changes = this.presencePending.get(room);
    if (!changes) this.presencePending.set(room, (changes = new Map()));
    const earlier = changes.get(user.id);
    if (earlier && earlier.kind !== kind) changes.delete(user.id); // left and came back (or the reverse): no news
    else changes.set(user.id, { kind, user, at: new Date().toISOString() });
    this.presenceTimer ??= setTimeout(() => this.flushPresence(), this.options.presenceIntervalMs);
  }

  /**
   * Announce the gathered presence changes; all frames of one room go out in one write per socket.
   * Small rooms get each arrival and departure. Large rooms get only the new count, because listing
   * every change to every member is quadratic in the room's size. A room that shrinks back gets one
   * full `presence` frame so that every member's list is whole again.
   */
  flushPresence(): void {
    if (this.presenceTimer) clearTimeout(this.presenceTimer);
    this.presenceTimer = null;
    const now = performance.now();
    for (const [room, changes] of this.presencePending) {
      // A large room's snapshot lists whoever is online now, with the count last announced (see
      // `sendPresence`), so it is refreshed whether or not that count goes out.
      this.snapshots.delete(room);
      const count = this.online.get(room)?.size ?? 0;
      if (count > LIMITS.presenceListMax) {
        this.announceCount(room, count, now);
        continue;
      }
      if (this.largeRooms.delete(room)) {
        this.countNextAt.delete(room);
        this.countsDeferred.delete(room);
        this.bus.publish({ kind: 'room', room, frame: JSON.stringify(this.presenceFrame(room)) });
        continue;
      }
      for (const { kind, user, at } of changes.values()) {
        const frame: UserJoinedFrame | UserLeftFrame = { type: kind, room, user, at };
        this.bus.publish({ kind: 'room', room, frame: JSON.stringify(frame) });
      }
    }
    this.presencePending.clear();
  }

  /**
   * Announce a large room's count, if it changed, once its time has come. Each announcement is a
   * write to every member, so announced every batch, a room of 10,000 online costs 20,000 writes a
   * second in a connect storm (about a fifth of the event loop on the bench machine, in stalls of
   * 100 ms). Spaced `presenceCountIntervalMs` per `presenceListMax` online, a large room's counts
   * cost about the writes a room of `presenceListMax` does with every batch, whatever its size, up
   * to `presenceCountMaxIntervalMs`, which bounds how stale a count gets (with the defaults: 2.5 s
   * at 1,000 online, 10 s from 4,000; a room of 10,000 then costs 1,000 writes a second, not
   * 20,000). Until then newcomers get the count last announced.
   */
  private announceCount(room: string, count: number, now: number): void {
    if (this.largeRooms.get(room) === count) return;
    const due = this.countNextAt.get(room) ?? 0;
    if (now < due) {
      this.countsDeferred.add(room);
      this.armCountTimer(due);
      return;
    }
    this.snapshots.delete(room);
    this.largeRooms.set(room, count);
    const interval = Math.min((this.options.presenceCountIntervalMs * count) / LIMITS.presenceListMax, this.options.presenceCountMaxIntervalMs);
    this.countNextAt.set(room, now + interval);
    const frame: PresenceCountFrame = { type: 'presence_count', room, count };
    this.bus.publish({ kind: 'room', room, frame: JSON.stringify(frame) });
  }

  /** Run `flushCounts` at `at` (performance.now() time), unless it runs sooner already. */
  private armCountTimer(at: number): void {
    if (this.countTimer && this.countTimerAt <= at) return;
    if (this.countTimer) clearTimeout(this.countTimer);
    this.countTimerAt = at;
    this.countTimer = setTimeout(() => this.flushCounts(), Math.max(0, at - performance.now()));
  }

  /** Offer each deferred count again: those due go out, `announceCount` defers the others anew. */
  private flushCounts(): void {
    this.countTimer = null;
    const now = performance.now();
    const rooms = [...this.countsDeferred];
    this.countsDeferred.clear();
    for (const room of rooms) {
      const count = this.online.get(room)?.size ?? 0;
      // A room that shrank back is announced whole by the presence batch on its way.
      if (count > LIMITS.presenceListMax) this.announceCount(room, count, now);
    }
  }

  onlineUsers(room: string): PublicUser[] {
    return [...(this.online.get(room)?.values() ?? [])].map((e) => e.user);
  }

  /** The `presence` frame for a room: everyone online, or `presenceListMax` of them in a large room. */
  presenceFrame(room: string): PresenceFrame {
    const online = this.online.get(room);
    const users: PublicUser[] = [];
    if (online) {
      for (const entry of online.values()) {
        if (users.length === LIMITS.presenceListMax) break;
        users.push(entry.user);
      }
    }
    return { type: 'presence', room, users, count: online?.size ?? 0 };
  }

  /**
   * Queue the room's `presence` frame for a newcomer. Small rooms get an exact, fresh list. Large
   * rooms (already a partial list) get the snapshot of the last presence batch, with the count last
   * announced, so the next `presence_count` brings everyone, newcomers included, up to date.
   */
  sendPresence(conn: Connection, room: string): void {
    if (conn.closing) return;
    let shared = this.snapshots.get(room);
    if (shared === undefined) {
      const lastCount = this.largeRooms.get(room);
      const frame = this.presenceFrame(room);
      const payload = Buffer.from(JSON.stringify(lastCount === undefined ? frame : { ...frame, count: lastCount }));
      shared = { payload, framed: frameOnce(payload) };
      // Only for a room someone is in: the map must not keep rooms nobody is online in.
      if (this.online.has(room)) this.snapshots.set(room, shared);
    }
    // Encoded and framed once for every newcomer (a large room's list is ~10 KB): never joined
    // into, and re-encoded with, the newcomer's other frames.
    conn.out.push(shared);
    this.dirty.add(conn);
    this.schedule();
  }

  /** Queue a frame for one socket; written at the end of this turn, before room traffic. */
  send(conn: Connection, frame: ServerFrame): void {
    this.sendSerialized(conn, JSON.stringify(frame));
  }

  /** `send` for a frame already serialized (a history reply built piece by piece). */
  sendSerialized(conn: Connection, json: string): void {
    if (conn.closing) return;
    conn.out.push(json);
    this.dirty.add(conn);
    this.schedule();
  }

  /** Bytes waiting to go to this socket: in `ws` and the TCP socket's user-space buffer, and still in the hub. */
  queuedBytes(conn: Connection): number {
    let bytes = conn.ws.bufferedAmount;
    for (const item of conn.out) bytes += typeof item === 'string' ? Buffer.byteLength(item) : item.payload.length;
    for (const batch of conn.held) bytes += batch.payload.length;
    return bytes;
  }

  /**
   * A frame for the user on this socket: written with its own frames, unless the socket is held
   * (hello and its replays go first), in which case it waits with the held room traffic.
   */
  private sendToUserSocket(conn: Connection, json: string): void {
    if (conn.closing) return;
    if (conn.holdDepth === 0) return this.sendSerialized(conn, json);
    const payload = Buffer.from(json);
    conn.held.push({ room: '', frames: [json], seqs: [0], payload, framed: frameOnce(payload) });
  }

  hold(conn: Connection): void {
    conn.holdDepth++;
  }

  /** Let parked room traffic through, after whatever was queued for the socket itself. */
  release(conn: Connection): void {
    if (conn.holdDepth > 0 && --conn.holdDepth === 0 && conn.held.length > 0) {
      this.dirty.add(conn);
      this.schedule();
    }
  }

  /** Record that history up to `seq` of `room` was sent to this socket (see `replayedTo`). */
  markReplayed(conn: Connection, room: string, seq: number): void {
    conn.replayedTo ??= new Map();
    conn.replayedTo.set(room, Math.max(seq, conn.replayedTo.get(room) ?? 0));
  }

  /**
   * Close every socket of these sessions (they were revoked). A scan of all sockets rather than an
   * index by session: revocations are rare (sign-out, password change), and an index would cost a
   * map entry and a set on every one of the idle sockets a node holds.
   */
  endSessions(sessionIds: number[], reason = 'session_ended'): void {
    const ended = new Set(sessionIds);
    for (const conn of this.connections) if (ended.has(conn.sessionId)) this.close(conn, CLOSE_CODES.session_ended, reason);
  }

  close(conn: Connection, code: number, reason: string): void {
    if (conn.closing) return;
    this.flushConnection(conn); // what was queued for it (e.g. an error frame) goes first
    this.closeNow(conn, code, reason);
  }

  /**
   * Start the close handshake. The close frame goes out behind whatever the socket still has to
   * send, so a peer that reads slowly sees it (and its code) once it has read the rest. A peer that
   * reads nothing at all never can: one that takes nothing of the backlog (or, once it is out,
   * does not answer the close) for `closeGraceMs` is cut off, and sees 1006.
   */
  private closeNow(conn: Connection, code: number, reason: string): void {
    conn.closing = true;
    conn.closeCode = code;
    conn.ws.close(code, reason);
    let left = conn.ws.bufferedAmount;
    const watch = setInterval(() => {
      const ws = conn.ws;
      if (ws.readyState === WebSocket.CLOSED) return clearInterval(watch);
      const now = ws.bufferedAmount;
      if (now >= left) {
        clearInterval(watch);
        ws.terminate();
      }
      left = now;
    }, this.options.closeGraceMs);
    watch.unref();
  }

  private onBusEvent(event: BusEvent): void {
    if (event.kind === 'room') {
      if (!this.rooms.has(event.room)) return;
      let batch = this.roomOut.get(event.room);
      if (!batch) this.roomOut.set(event.room, (batch = { frames: [], seqs: [] }));
      batch.frames.push(event.frame);
      batch.seqs.push(event.seq ?? 0);
      const pace = this.roomPace.get(event.room);
      if (pace) this.noteArrival(pace, performance.now());
      this.schedule();
    } else if (event.kind === 'membership') {
      const sockets = this.byUser.get(event.userId);
      if (!sockets) return;
      for (const conn of sockets) {
        if (conn.pendingMembership) conn.pendingMembership.push({ room: event.room, joined: event.joined, seq: event.seq });
        else if (event.joined) this.joinRoom(conn, event.room, event.seq);
        else this.leaveRoom(conn, event.room);
      }
    } else if (event.kind === 'user') {
      const sockets = this.byUser.get(event.userId);
      if (!sockets) return;
      for (const conn of sockets) {
        this.sendToUserSocket(conn, event.frame);
        // Who of the room is online, for a socket that just joined it (the hub knows; the sender does not).
        if (event.presence !== undefined && conn.rooms.includes(event.presence)) this.sendToUserSocket(conn, JSON.stringify(this.presenceFrame(event.presence)));
      }
    } else if (event.kind === 'sessions_ended') {
      this.endSessions(event.sessionIds);
    } else if (event.kind === 'user_updated') {
      this.updateUser(event.user);
    }
  }

  /** Use the new profile from now on: in presence lists and as the author of this user's messages. */
  private updateUser(user: PublicUser): void {
    this.snapshots.clear();
    for (const conn of this.connections) if (conn.user.id === user.id) conn.user = user;
    for (const users of this.online.values()) {
      const entry = users.get(user.id);
      if (entry) entry.user = user;
    }
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Write what is queued: per-socket frames, then each room's batch.
   *
   * Large rooms are paced when pacing pays. Writing a room costs one syscall per member (on
   * loopback and on most NICs, the kernel's send path is most of a delivery's CPU), whatever the
   * batch holds. So a room whose last round took T ms may be held until `fanoutPace` × T (at most
   * `fanoutPaceMaxMs`) after that round ended, and what arrives meanwhile goes out as one batch.
   * Holding only pays if something does arrive meanwhile: the room is held only while its messages
   * come in faster than one per hold (`gapMs`, see `noteArrival`), so that at least one more is
   * expected to join. A room slower than that is written at once: holding would delay every
   * message by up to T and join nothing (at 50 msg/s into 1,000 sockets, rounds shorter than the
   * 20 ms between messages, fixed pacing cost p50 1.6× and p99 1.5× and saved no CPU). That is
   * also when the writes matter: a room whose messages come faster than its rounds take would keep
   * the event loop writing back to back, and paced at the default of 1, its writes take at most
   * about half of the loop. A small room (round under `fanoutPaceMinMs`) is never held, and the
   * delay a paced room adds is bounded by the time its own round takes (which its members already
   * wait, half of it on average).
   *
   * A room with more sockets than `fanoutChunk` is written `fanoutChunk` sockets per turn (see
   * `Round`), so that one message to a room of 10,000 does not stop every other room, and every
   * frame arriving, for the ~100 ms its writes take.
   *
   * `force` (shutdown) writes every room now.
   */
  flush(force = false): void {
    this.flushScheduled = false;
    // Per-socket frames first: a sender sees its ack before the fan-out of its message.
    for (const conn of this.dirty) this.flushConnection(conn);
    this.dirty.clear();
    // Rounds begun in an earlier turn go on before any new one: theirs is older traffic.
    for (const round of this.rounds.values()) this.writeRound(round, force);
    for (const [room, { frames, seqs }] of this.roomOut) {
      const members = this.rooms.get(room);
      if (!members) {
        this.roomOut.delete(room);
        continue;
      }
      // The room's previous round is still being written: this batch follows it.
      if (this.rounds.has(room)) continue;
      const started = performance.now();
      const pace = this.roomPace.get(room);
      if (pace && !force) {
        if (pace.timer) continue; // already waiting for its turn
        const holdMs = Math.min(pace.tookMs * this.options.fanoutPace, this.options.fanoutPaceMaxMs);
        const due = pace.endedAt + holdMs;
        if (started < due && pace.gapMs < holdMs) {
          pace.timer = setTimeout(() => {
            pace.timer = null;
            this.flush();
          }, due - started);
          continue;
        }
      }
      if (pace?.timer) {
        clearTimeout(pace.timer);
        pace.timer = null;
      }
      this.roomOut.delete(room);
      const payload = Buffer.from(frames.length === 1 ? frames[0]! : frames.join(FRAME_SEPARATOR));
      // The WebSocket frame (header + payload) is the same bytes for every member: build it once.
      const batch: RoomBatch = { room, frames, seqs, payload, framed: frameOnce(payload) };
      if (members.size > this.options.fanoutChunk && !force) {
        const round: Round = { batch, sockets: [...members], next: 0, tookMs: 0, startedAt: started };
        this.rounds.set(room, round);
        this.writeRound(round, false);
        continue;
      }
      for (const conn of members) this.deliverOrHold(conn, batch);
      const endedAt = performance.now();
      this.notePace(room, endedAt - started, endedAt, started);
    }
    if (this.rounds.size > 0) this.schedule();
  }

  /**
   * Write the next `fanoutChunk` sockets of a large room's round (all that are left when `force`).
   * A socket that left the room or closed since the round began is skipped; one that joined since
   * is not in it (what the round carries was stored before the join, see `joinRoom`).
   */
  private writeRound(round: Round, force: boolean): void {
    const started = performance.now();
    const { batch, sockets } = round;
    const members = this.rooms.get(batch.room);
    const end = force ? sockets.length : Math.min(sockets.length, round.next + this.options.fanoutChunk);
    for (; round.next < end; round.next++) {
      const conn = sockets[round.next]!;
      if (members?.has(conn)) this.deliverOrHold(conn, batch);
    }
    const endedAt = performance.now();
    round.tookMs += endedAt - started;
    if (round.next < sockets.length) return;
    this.rounds.delete(batch.room);
    // Paced by the time its writes took, not by the turns between them.
    this.notePace(batch.room, round.tookMs, endedAt, round.startedAt);
  }

  private deliverOrHold(conn: Connection, batch: RoomBatch): void {
    if (conn.closing) return;
    if (conn.holdDepth > 0) conn.held.push(batch);
    else this.deliver(conn, batch);
  }

  /** A round of `room` ended at `endedAt` after `tookMs` of writes: pace its next one if that was long (see `flush`). */
  private notePace(room: string, tookMs: number, endedAt: number, startedAt: number): void {
    const pace = this.roomPace.get(room);
    if (this.options.fanoutPace > 0 && tookMs >= this.options.fanoutPaceMinMs) {
      if (pace) {
        pace.endedAt = endedAt;
        pace.tookMs = tookMs;
      } else {
        // The room's rate is measured from here on: until a gap is seen, nothing is held.
        this.roomPace.set(room, { endedAt, tookMs, timer: null, gapMs: Infinity, lastAt: startedAt });
      }
    } else if (pace) this.roomPace.delete(room);
  }

  /**
   * A frame for a paced room arrived at `now`: fold the gap since the previous one into the room's
   * average gap (an exponentially weighted mean over about the last 8 frames, as TCP smooths its
   * round-trip time: quick to follow a room that turns busy, not fooled by one burst or one
   * pause). A long silence counts as `QUIET_GAPS` holds at most, so a busy room that was quiet a
   * while is known busy again after a few messages, not after hundreds.
   */
  private noteArrival(pace: RoomPace, now: number): void {
    const gap = Math.min(now - pace.lastAt, QUIET_GAPS * this.options.fanoutPaceMaxMs);
    pace.lastAt = now;
    pace.gapMs = pace.gapMs === Infinity ? gap : pace.gapMs + (gap - pace.gapMs) / 8;
  }

  /** Write a room batch to one socket, minus messages it already got in a history replay. */
  private deliver(conn: Connection, batch: RoomBatch, raw?: RawAccess['_socket'] | null): void {
    const replayedTo = conn.replayedTo?.get(batch.room);
    if (replayedTo === undefined) return this.writeBatch(conn, raw, batch.payload, batch.framed);
    const keep: string[] = [];
    let newer = false;
    for (let i = 0; i < batch.frames.length; i++) {
      const seq = batch.seqs[i]!;
      if (seq === 0 || seq > replayedTo) keep.push(batch.frames[i]!);
      if (seq > replayedTo) newer = true;
    }
    // Fan-out follows seq order, so once a newer message passes, no repeat can follow.
    if (newer) {
      conn.replayedTo!.delete(batch.room);
      if (conn.replayedTo!.size === 0) conn.replayedTo = null;
    }
    if (keep.length === batch.frames.length) this.writeBatch(conn, raw, batch.payload, batch.framed);
    else if (keep.length > 0) this.writeBatch(conn, raw, Buffer.from(keep.join(FRAME_SEPARATOR)));
  }

  /**
   * `deliver`'s write: checked (`write`) when `raw` is undefined, as is (`writeNow`) in a corked turn.
   * A method, not a closure in `deliver`: that ran once per member of every room batch, and its
   * allocation was a sixth of all the server allocated with many rooms (bench "Many rooms").
   */
  private writeBatch(conn: Connection, raw: RawAccess['_socket'] | null | undefined, payload: Buffer, framed?: Buffer): void {
    if (raw === undefined) this.write(conn, payload, framed);
    else this.writeNow(conn, raw, payload, framed);
  }

  /**
   * Write the socket's own frames, then the room traffic held for it, in ONE syscall: the writes are
   * corked and go out as one writev on uncork. A returning client's hello, its rooms' presence and
   * resume replies (and whatever room traffic waited behind them) cost one write, not one each.
   */
  private flushConnection(conn: Connection): void {
    if (conn.closing) return;
    const held = conn.holdDepth === 0 && conn.held.length > 0;
    if (conn.out.length === 0 && !held) return;
    if (this.tooSlow(conn)) return;
    const raw = canWriteRaw(conn.ws) ? (conn.ws as unknown as RawAccess)._socket : null;
    raw?.cork();
    if (conn.out.length > 0) {
      const out = conn.out;
      conn.out = [];
      // Serialized frames are joined into one message; a shared frame goes as is, as its own.
      let strings: string[] = [];
      for (const item of out) {
        if (typeof item === 'string') {
          strings.push(item);
          continue;
        }
        if (strings.length > 0) this.writeNow(conn, raw, Buffer.from(strings.length === 1 ? strings[0]! : strings.join(FRAME_SEPARATOR)));
        strings = [];
        this.writeNow(conn, raw, item.payload, item.framed);
      }
      if (strings.length > 0) this.writeNow(conn, raw, Buffer.from(strings.length === 1 ? strings[0]! : strings.join(FRAME_SEPARATOR)));
    }
    if (held) {
      const batches = conn.held;
      conn.held = [];
      for (const batch of batches) this.deliver(conn, batch, raw);
    }
    raw?.uncork();
  }

  /**
   * A reader too slow to keep up is disconnected (it resumes on reconnect) rather than letting its
   * backlog grow without bound in this process. What counts is what is still unsent from earlier
   * turns: one turn's payload may alone exceed the cap under a burst, and a reader that drains its
   * socket is not slow. So per socket, memory stays under cap + one turn's payload.
   */
  private tooSlow(conn: Connection): boolean {
    // A raw write returns false once the socket holds its high-water mark (16 KB by default) unsent;
    // while the last one returned true, less than that (no more than the cap) waited, and reading
    // the backlog before every write cost a fifth of the fan-out's JavaScript time (five objects
    // reached per socket). So it is read only after a write that did not say so.
    if (this.writesTellBacklog && !conn.backedUp) return false;
    const buffered = conn.ws.bufferedAmount;
    if (buffered <= this.options.sendBufferCap) {
      if (buffered === 0) conn.backedUp = false;
      return false;
    }
    this.log.warn({ userId: conn.user.id, buffered }, 'closing slow consumer');
    conn.out = [];
    conn.held = [];
    this.closeNow(conn, CLOSE_CODES.slow_consumer, 'slow_consumer');
    return true;
  }

  private write(conn: Connection, payload: Buffer, framed?: Buffer): void {
    if (conn.closing || this.tooSlow(conn)) return;
    this.writeNow(conn, canWriteRaw(conn.ws) ? (conn.ws as unknown as RawAccess)._socket : null, payload, framed);
  }

  /**
   * `raw`: the TCP socket, when `canWriteRaw` held as the turn's writes to this socket began (checked
   * once: nothing this turn's writes do can queue in `ws`'s sender). A payload not framed yet gets
   * its frame header written ahead of it, so neither is copied.
   */
  private writeNow(conn: Connection, raw: RawAccess['_socket'] | null, payload: Buffer, framed?: Buffer): void {
    if (conn.closing) return;
    let drained = false;
    if (!raw) conn.ws.send(payload, { binary: false });
    else if (framed) drained = raw.write(framed);
    else for (const part of frameParts(payload)) drained = raw.write(part);
    if (!drained) conn.backedUp = true;
  }

  /** Shutdown: write what is queued, then close every socket with 1001. */
  closeAll(): void {
    if (this.presenceTimer) clearTimeout(this.presenceTimer);
    if (this.countTimer) clearTimeout(this.countTimer);
    this.countTimer = null;
    this.countsDeferred.clear();
    if (this.departureTimer) clearTimeout(this.departureTimer);
    this.departureTimer = null;
    this.presencePending.clear();
    this.flush(true);
    for (const pace of this.roomPace.values()) if (pace.timer) clearTimeout(pace.timer);
    this.roomPace.clear();
    for (const conn of this.connections) this.close(conn, CLOSE_CODES.going_away, 'server_shutdown');
    this.unsubscribe();
  }
}

export interface HubOptions {
  /** Unsent bytes above which a socket is closed as a slow consumer. */
  sendBufferCap: number;
  presenceIntervalMs: number;
  /** A large room's count is announced at most once per this many ms per `LIMITS.presenceListMax` online (see `announceCount`). */
  presenceCountIntervalMs: number;
  /** ...but never held longer than this (ms). */
  presenceCountMaxIntervalMs: number;
  /** A user whose last socket in a room closed is announced gone only if not back within this (ms; 0: at once). */
  presenceLeaveGraceMs: number;
  /**
   * A room whose write round took T ms, and whose frames arrive more often than one per
   * `fanoutPace` × T, is written again no sooner than `fanoutPace` × T after it (0: never held).
   */
  fanoutPace: number;
  /** Write rounds shorter than this never delay the next one. */
  fanoutPaceMinMs: number;
  /** The most pacing ever delays a room's next round. */
  fanoutPaceMaxMs: number;
  /** Sockets written per event-loop turn for one room: a larger room's round is spread over several turns. */
  fanoutChunk: number;
  /** A closing socket whose peer reads nothing of its backlog for this long is cut off. */
  closeGraceMs: number;
}

/** What `ws` reports for a connection that ended without a close frame (RFC 6455, 7.1.5). */
const ABNORMAL_CLOSURE = 1006;

/** One user online in one room: their sockets there, and the token of their pending departure (0: none). */
interface OnlineEntry {
  user: PublicUser;
  sockets: number;
  departure: number;
}

/** A user's last socket in a room closed at `at` (performance.now()); `token` tells it from a later one. */
interface Departure {
  room: string;
  userId: number;
  entry: OnlineEntry;
  token: number;
  at: number;
}

/**
 * A large room's pacing: when its last write round ended and how long it took (ms), the timer of a
 * held round, and how fast its frames arrive (`gapMs`, the smoothed gap between them; Infinity
 * until one is seen; `lastAt`, the previous one's arrival).
 */
interface RoomPace {
  endedAt: number;
  tookMs: number;
  timer: NodeJS.Timeout | null;
  gapMs: number;
  lastAt: number;
}

/** The longest gap between a paced room's frames that its average counts, in `fanoutPaceMaxMs` (see `noteArrival`). */
const QUIET_GAPS = 4;

/**
 * A large room's batch being written over several turns, `fanoutChunk` sockets a turn: the room's
 * sockets when it began (a Set cannot be walked across turns while sockets come and go), the next
 * one to write, and the time its writes took so far (ms) since it began at `startedAt`. Until it
 * ends, the room's next batch waits, so each socket still gets the room's frames in order.
 */
interface Round {
  batch: RoomBatch;
  sockets: Connection[];
  next: number;
  tookMs: number;
  startedAt: number;
}

/** One turn's frames for a room, serialized and framed once for all its members. */
interface RoomBatch {
  room: string;
  frames: string[];
  /** The message seq of each frame, 0 for frames that are not messages. */
  seqs: number[];
  payload: Buffer;
  framed: Buffer;
}

/** The parts of a `ws` WebSocket that the broadcast fast path reads. */
interface RawAccess {
  _socket: { write(data: Buffer): boolean; cork(): void; uncork(): void };
  _sender: { _state: number; _queue: unknown[] };
}

/** An unmasked, final text frame around `payload`, as one buffer (what `ws` would write per socket). */
// `ws` exports its Sender at runtime; @types/ws does not declare it.
const { Sender } = wsModule as unknown as {
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
};

function frameOnce(payload: Buffer): Buffer {
  const parts = frameParts(payload);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** The same frame as its header and the payload itself (not copied). */
function frameParts(payload: Buffer): Buffer[] {
  return Sender.frame(payload, { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false });
}

/** A frame written as is to several sockets: its payload, and the payload framed. */
interface SharedFrame {
  payload: Buffer;
  framed: Buffer;
}

/**
 * Broadcast fast path: writing a pre-built frame straight to the TCP socket skips `ws`'s per-send
 * framing (option handling, a header allocation, cork/writev/uncork) for every member of a room.
 * It is only equivalent to `ws.send` while the socket is open and the sender has nothing queued
 * (no compression is negotiated: the server disables permessage-deflate), so anything else falls
 * back to `ws.send`.
 */
function canWriteRaw(ws: WebSocket): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  const raw = ws as unknown as Partial<RawAccess>;
  return raw._socket !== undefined && raw._sender !== undefined && raw._sender._state === 0 && raw._sender._queue.length === 0;
}
