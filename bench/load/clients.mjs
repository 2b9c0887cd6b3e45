// One simulated user per BenchClient, on the bench's own lean WebSocket client (`rawws.mjs`) for
// every target. Deliveries are reported through a callback with the message number and send time
// read from the bench marker.
import { performance } from 'node:perf_hooks';
import { OPEN, RawWebSocket } from './rawws.mjs';
import {
  EIO_QUERY,
  benchText,
  chatterSend,
  chatterWsPath,
  classifyEio,
  eio,
  frameType,
  parseBenchText,
  parseFrame,
  readSeq,
  isMessageFrame,
  messageRoom,
  readMarker,
} from './protocols.mjs';

const NEWLINE = 0x0a;

export const TARGET_KINDS = ['chatter', 'socketio', 'ws-floor', 'ws-coalesce'];

/** Targets that speak Chatter's frames: Chatter itself and the coalescing floor. */
export function speaksChatter(kind) {
  return kind === 'chatter' || kind === 'ws-coalesce';
}

/**
 * Chatter keeps every clientId it has stored and answers a reused one with the original ack and no
 * fan-out (idempotent resend). Runs share a database, so clientIds carry a per-process tag.
 */
export const RUN_TAG = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

/** When any client last received anything, and how many WebSocket messages in all: for waitQuiet. */
export const activity = { last: 0, messages: 0 };

/** Microseconds on this process's monotonic clock; senders and receivers share it. */
export function nowMicros() {
  return Math.round(performance.now() * 1000);
}

// No permessage-deflate is offered, and no UTF-8 is validated: the generator reads bytes and finds
// markers itself, and client cost that says nothing about the server is left out.
const WS_OPTIONS = { handshakeTimeout: 60000 };

/**
 * @typedef {{ kind: 'chatter'|'socketio'|'ws-floor'|'ws-coalesce', host: string, port: number }} TargetAddress
 * @typedef {(msgNo: number, sentMicros: number, client: BenchClient) => void} OnDelivery
 */
export class BenchClient {
  /**
   * @param {TargetAddress} target
   * @param {{ index: number, token?: string, onDelivery?: OnDelivery, room?: string, rooms?: string[], localAddress?: string }} options
   *   `rooms`: every room the client follows (its first is `room`, where it sends); default `[room]`.
   */
  constructor(target, { index, token, onDelivery, room = 'general', rooms, localAddress }) {
    this.target = target;
    this.index = index;
    this.token = token;
    this.rooms = rooms?.length ? rooms : [room];
    this.room = this.rooms[0];
    /**
     * Highest seq seen in each room after the first, or null for a client of one room: the lean
     * receive path then reads no room id at all.
     */
    this.seqs = this.rooms.length > 1 ? Object.fromEntries(this.rooms.slice(1).map((r) => [r, 0])) : null;
    // Spread clients over many loopback source addresses: one address has ~28k ephemeral ports,
    // and storms of connects and drops leave tens of thousands in TIME_WAIT for a minute.
    this.localAddress = localAddress ?? (target.host === '127.0.0.1' ? `127.0.${1 + (index % 50)}.${2 + ((index >> 4) % 250)}` : undefined);
    this.onDelivery = onDelivery ?? (() => {});
    // One callback for the life of the client, not a closure per received message.
    this.onMarker = (msgNo, sentMicros) => this.onDelivery(msgNo, sentMicros, this);
    this.onMessage = (buf, start, end, receivedAtMs) => this.receive(buf, start, end, receivedAtMs);
    this.ws = null;
    this.ready = false;
    /** Highest Chatter seq seen in `room` (the resume point). */
    this.lastSeq = 0;
    this.deliveries = 0;
    this.acks = 0;
    /** msgNo -> true once acked (senders only; Chatter only). */
    this.ackedMsgNos = [];
    this.errors = {};
    this.closes = [];
    this.resumeGaps = 0;
    this.connectedAt = 0;
    this.resumedAt = 0;
    this._pendingReady = null;
    this._resuming = false;
    /** Rooms whose resume replay (or gap paging) is still to come. */
    this._resumePending = new Set();
    this.resumeAheads = 0;
    this.connecting = false;
    /** Rooms being paged with `events`: room -> {ref, until}. */
    this._paging = null;
    this._pageRefs = 0;
    /** Id of the last message this client sent (from its ack), for edits and reactions. */
    this.lastMessageId = null;
    /** Live events that are no new message (edits, reactions, membership) received. */
    this.otherEvents = 0;
    /** The hello (parsed). */
    this.hello = null;
    /** When true, frames after the client is ready are counted but not parsed. */
    this.passive = false;
    this.receivedMicros = 0;
    /** Called with parsed Chatter history (reason "request"), error and pong frames. */
    this.onControl = null;
  }

  url(resume) {
    const { kind, host, port } = this.target;
    if (kind === 'chatter') return `ws://${host}:${port}${chatterWsPath({ history: 0, resume })}`;
    // The peers learn a client's rooms from the URL (they have no membership to look up).
    const roomsQuery = this.rooms.length > 1 || this.room !== 'general' ? `&rooms=${encodeURIComponent(this.rooms.join(','))}` : '';
    if (kind === 'ws-coalesce') return `ws://${host}:${port}${chatterWsPath({ history: 0 })}&user=u${this.index}${roomsQuery}`;
    if (kind === 'socketio') return `ws://${host}:${port}/socket.io/?${EIO_QUERY}&user=u${this.index}${roomsQuery}`;
    return `ws://${host}:${port}/?user=u${this.index}${roomsQuery}`;
  }

  /**
   * Open the socket and resolve once the target says the client is in: Chatter's hello (and,
   * when resuming, the resume replay), Socket.IO's namespace connect, the floor's open.
   * @param {{ resume?: Record<string, number> }} [options]
   */
  connect({ resume } = {}) {
    const options = { ...WS_OPTIONS };
    if (this.token) options.headers = { authorization: `Bearer ${this.token}` };
    if (this.localAddress) options.localAddress = this.localAddress;
    this.ready = false;
    this.connecting = true;
    this._resuming = Boolean(resume && Object.keys(resume).length);
    this._resumePending = new Set(this._resuming ? Object.keys(resume) : []);
    this.hello = null;
    const ws = new RawWebSocket(this.url(resume), options);
    this.ws = ws;
    return new Promise((resolve, reject) => {
      this._pendingReady = { resolve, reject };
      ws.onmessage = this.onMessage;
      ws.onopen = () => {
        if (this.target.kind === 'ws-floor') this.markReady();
      };
      ws.onerror = (err) => this.fail(err);
      ws.onclose = (code) => {
        if (ws !== this.ws) return;
        this.closes.push(code);
        this.ready = false;
        this.fail(new Error(`closed with ${code} before ready`));
      };
    });
  }

  markReady() {
    this.ready = true;
    this.connectedAt = performance.now();
    if (!this._resuming) this.finishReady();
  }

  finishReady() {
    this.connecting = false;
    this.resumedAt = performance.now();
    const pending = this._pendingReady;
    this._pendingReady = null;
    pending?.resolve(this);
  }

  fail(err) {
    this.connecting = false;
    const pending = this._pendingReady;
    this._pendingReady = null;
    pending?.reject(err);
  }

  /**
   * One WebSocket message, data[start, end) (a view into the shared read buffer, valid during this
   * call only). `receivedAtMs` is the clock read of the socket read that completed it: every
   * message in one TCP read arrived at the same moment, so they share one clock read.
   */
  receive(data, start, end, receivedAtMs) {
    activity.last = receivedAtMs;
    activity.messages++;
    /** Receive time of the current message, so markers coalesced in it share one clock read. */
    this.receivedMicros = Math.round(receivedAtMs * 1000);
    // Idle clients only count: the idle scenario measures the server, not our parsing of presence.
    if (this.passive && this.ready && !this._resuming) return;
    const kind = this.target.kind;
    if (kind === 'ws-floor') {
      this.deliveries += readMarker(data, this.onMarker, start, end);
    } else if (kind === 'socketio') {
      this.receiveSocketIo(data, start, end);
    } else {
      this.receiveChatter(data, start, end);
    }
  }

  receiveSocketIo(data, start, end) {
    switch (classifyEio(data, start)) {
      case 'event':
        this.deliveries += readMarker(data, this.onMarker, start, end);
        return;
      case 'ping':
        this.ws.send(eio.pong);
        return;
      case 'open':
        this.ws.send(eio.connect);
        return;
      case 'connect':
        this.markReady();
        return;
      case 'connect_error':
      case 'disconnect':
        this.count('socketio_' + classifyEio(data, start));
        this.fail(new Error(`socket.io refused: ${data.toString('utf8', start, end)}`));
        return;
      default:
        return;
    }
  }

  /**
   * Deliveries, the bulk of what arrives, take the lean path: the frame is recognised by its first
   * bytes, its marker read in place, no string made and nothing parsed; the seq is read once per
   * WebSocket message, from its last message frame (seqs rise within a message). Rarer frames are
   * split off and handled by `receiveChatterFrame`.
   */
  receiveChatter(data, from, to) {
    let start = from;
    let lastMessage = -1;
    let lastMessageEnd = -1;
    const multi = this.seqs !== null;
    while (start < to) {
      let end = data.indexOf(NEWLINE, start);
      if (end === -1 || end > to) end = to;
      if (end > start) {
        if (isMessageFrame(data, start, end)) {
          // A client of several rooms reads each message's room and seq (a few more bytes);
          // one of a single room reads the seq once per WebSocket message, below.
          if (multi) this.noteSeq(messageRoom(data, start, end), readSeq(data, start, end));
          else {
            lastMessage = start;
            lastMessageEnd = end;
          }
          this.deliveries += readMarker(data, this.onMarker, start, end);
        } else {
          this.receiveChatterFrame(data, start, end);
        }
      }
      start = end + 1;
    }
    if (lastMessage !== -1) {
      const seq = readSeq(data, lastMessage, lastMessageEnd);
      if (seq > this.lastSeq) this.lastSeq = seq;
    }
  }

  /** Note that `room` reached `seq` (ignored for a room the client does not follow). */
  noteSeq(room, seq) {
    if (room === this.room) {
      if (seq > this.lastSeq) this.lastSeq = seq;
    } else if (this.seqs !== null && room !== null && Object.hasOwn(this.seqs, room)) {
      if (seq > this.seqs[room]) this.seqs[room] = seq;
    }
  }

  /** The highest seq seen in `room`. */
  seqOf(room) {
    return room === this.room ? this.lastSeq : (this.seqs?.[room] ?? 0);
  }

  /** What to resume from: the last seq held in every room the client follows. */
  resumeState() {
    return this.seqs === null ? { [this.room]: this.lastSeq } : { [this.room]: this.lastSeq, ...this.seqs };
  }

  /** One replayed or paged event (parsed): its seq, and a delivery if it is a bench message. */
  applyEvent(event) {
    this.noteSeq(event.room, event.seq);
    if (event.kind !== 'message_created') return;
    const marker = parseBenchText(event.message?.text ?? '');
    if (marker) {
      this.deliveries++;
      this.onDelivery(marker.msgNo, marker.sentMicros, this);
    }
  }

  /** A frame that is not a live delivery (or does not start with its type): found by its type. */
  receiveChatterFrame(data, start, end) {
    const type = frameType(data, start, end);
    if (type === 'event') {
      // Edits, deletes, reactions, membership: they move the room's seq, and are no delivery.
      this.applyEvent(parseFrame(data, start, end).event);
      this.otherEvents++;
    } else if (type === 'ack') {
      const ack = parseFrame(data, start, end);
      this.acks++;
      if (ack.messageId !== undefined) this.lastMessageId = ack.messageId;
      const m = /_(\d+)$/.exec(ack.clientId);
      if (m) this.ackedMsgNos.push(Number(m[1]));
    } else if (type === 'hello') {
      const hello = parseFrame(data, start, end);
      // A fresh connection starts at each room's head; a resuming one keeps its own position and
      // gets an answer for every room it named (events, resume_gap or resume_ahead).
      if (!this._resuming) for (const r of hello.rooms ?? []) this.noteSeq(r.id, r.lastSeq);
      this.hello = hello;
      this.markReady();
    } else if (type === 'events') {
      const frame = parseFrame(data, start, end);
      const paging = this._paging?.get(frame.room);
      if (frame.reason === 'request' && !(paging && frame.ref === paging.ref)) return this.onControl?.(frame);
      // A gap's pages stop at the seq the gap named: what follows arrives live.
      for (const event of frame.events) if (!paging || event.seq <= paging.until) this.applyEvent(event);
      const until = paging ? paging.until : Infinity;
      if (frame.hasMore && frame.through < until) return this.requestEvents(frame.room, frame.through, until);
      this._paging?.delete(frame.room);
      this.roomResumed(frame.room);
    } else if (type === 'history') {
      this.onControl?.(parseFrame(data, start, end));
    } else if (type === 'resume_gap') {
      // Further behind than the server replays: page the missed stretch of the log with `events`
      // (a real client would reload the room; the bench counts every message exactly once).
      const gap = parseFrame(data, start, end);
      this.resumeGaps++;
      this.requestEvents(gap.room, gap.afterSeq, gap.latestSeq);
    } else if (type === 'resume_ahead') {
      const ahead = parseFrame(data, start, end);
      this.resumeAheads++;
      this.noteSeq(ahead.room, ahead.latestSeq);
      this.roomResumed(ahead.room);
    } else if (type === 'error') {
      const frame = parseFrame(data, start, end);
      this.count(frame.code);
      // A resume naming rooms the user is not in is answered once, for all of them.
      if (frame.code === 'room_not_found' && this._resumePending.size) for (const r of frame.details?.rooms ?? []) this.roomResumed(r);
      this.onControl?.(frame);
    } else if (type === 'pong') {
      this.onControl?.(parseFrame(data, start, end));
    }
    // presence, user_joined, user_left, read_state, room_joined: nothing to measure.
  }

  /** Ask for the log of `room` after `after`, up to `until` (paging a resume or a gap). */
  requestEvents(room, after, until) {
    this._paging ??= new Map();
    const ref = `ev${++this._pageRefs}`;
    this._paging.set(room, { ref, until });
    this.ws?.send(JSON.stringify({ type: 'events', room, after, limit: 500, ref }));
  }

  roomResumed(room) {
    if (!this._resumePending.delete(room) || this._resumePending.size) return;
    if (this._resuming) this.endResume();
  }

  endResume() {
    this._resuming = false;
    if (this.ready) this.finishReady();
  }

  count(code) {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  /** Send chat message number `msgNo` stamped with the current time. */
  sendChat(msgNo, textLength = 64, room = this.room) {
    const text = benchText(msgNo, nowMicros(), textLength);
    const clientId = `${RUN_TAG}_${msgNo}`;
    const kind = this.target.kind;
    let frame;
    if (speaksChatter(kind)) frame = chatterSend(room, clientId, text);
    else if (kind === 'socketio') frame = eio.event('chat', { room, clientId, text });
    else frame = JSON.stringify({ type: 'send', room, clientId, text });
    this.ws.send(frame);
  }

  /** Abrupt drop, as when a network goes away: no close handshake. */
  drop() {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    // A client whose network went away sees nothing more, and nothing may move its resume point.
    if (ws) ws.onmessage = null;
    ws?.terminate();
  }

  close() {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws && ws.readyState <= OPEN) ws.terminate();
  }
}

/**
 * Connect clients with at most `concurrency` handshakes in flight (below Node's default listen
 * backlog of 511, so the kernel never drops SYNs and set-up rate measures the server).
 * Resolves with {ok, failed, errors, ms}.
 */
export async function connectAll(clients, { concurrency = 400, resumeOf, deadlineMs = 120000 } = {}) {
  const started = performance.now();
  let next = 0;
  let ok = 0;
  let failed = 0;
  const errors = {};
  async function worker() {
    while (next < clients.length) {
      if (performance.now() - started > deadlineMs) return;
      const client = clients[next++];
      try {
        await client.connect(resumeOf ? { resume: resumeOf(client) } : {});
        ok++;
      } catch (err) {
        failed++;
        const key = String(err.message).slice(0, 80);
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker));
  return { ok, failed, notAttempted: clients.length - ok - failed, errors, ms: performance.now() - started };
}

/**
 * Open-loop senders: message k is due at start + k/rate, whatever the server does, so a slow
 * server shows up as latency and backlog rather than as a politely reduced load. Returns a stop
 * function. `onSend(msgNo, sender)` is called for every message sent.
 */
export function startSenders(senders, { rate, firstMsgNo = 0, textLength = 64, onSend = () => {} }) {
  const started = performance.now();
  let sent = 0;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    while (sent < due) {
      const sender = senders[sent % senders.length];
      const msgNo = firstMsgNo + sent;
      sent++;
      if (!sender.ws || sender.ws.readyState !== OPEN) continue; // skipped: this sender is not connected
      sender.sendChat(msgNo, textLength);
      onSend(msgNo, sender);
    }
    timer = setTimeout(tick, Math.max(1, Math.min(10, 1000 / rate)));
  };
  let timer = setTimeout(tick, 0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      return firstMsgNo + sent;
    },
    get sent() {
      return sent;
    },
  };
}

/** Resolve once no client has received anything for `quietMs` (or after `maxMs`). Returns waited ms. */
export async function waitQuiet({ quietMs = 300, maxMs = 10000 } = {}) {
  const started = performance.now();
  for (;;) {
    const now = performance.now();
    if (now - activity.last >= quietMs || now - started >= maxMs) return now - started;
    await sleep(Math.min(50, quietMs / 4));
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
