// Wire framing for the targets, spoken over the same lean WebSocket client (rawws.mjs) so that
// client cost is identical: Chatter's JSON frames (several per WebSocket message, separated by "\n"), Socket.IO's
// Engine.IO v4 / Socket.IO v5 packets, and the floor's plain JSON. Plus the bench marker that every
// chat text carries: "bm:<msgNo>:<sentMicros>:" padded, found in received bytes without JSON.parse,
// because at a million deliveries per second the generator cannot afford to parse every frame.

export const MARKER = Buffer.from('bm:');
const COLON = 0x3a;
const NEWLINE = 0x0a;

/** Chat text that carries its message number and send time (microseconds on the generator's clock). */
export function benchText(msgNo, sentMicros, length = 64) {
  const head = `bm:${msgNo}:${Math.round(sentMicros)}:`;
  return head.length >= length ? head : head + 'x'.repeat(length - head.length);
}

/** Parse a non-negative decimal integer at buf[pos..] up to a non-digit; returns [value, nextPos] or null. */
function readDigits(buf, pos, end) {
  let value = 0;
  const start = pos;
  while (pos < end) {
    const c = buf[pos];
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
    pos++;
  }
  return pos === start ? null : [value, pos];
}

/**
 * Call onMarker(msgNo, sentMicros) for every bench marker in buf[start, end). Returns how many.
 * Works on coalesced Chatter messages, Socket.IO event packets and floor frames alike.
 */
export function scanMarkers(buf, onMarker, start = 0, end = buf.length) {
  let found = 0;
  let pos = start;
  for (;;) {
    const at = buf.indexOf(MARKER, pos);
    if (at === -1 || at >= end) return found;
    pos = at + MARKER.length;
    const no = readDigits(buf, pos, end);
    if (!no || buf[no[1]] !== COLON) continue;
    const sent = readDigits(buf, no[1] + 1, end);
    if (!sent || buf[sent[1]] !== COLON) continue;
    found++;
    onMarker(no[0], sent[0]);
    pos = sent[1];
  }
}

/**
 * The first bench marker in buf[start, end): call onMarker(msgNo, sentMicros) and return 1, or
 * return 0. For a WebSocket message or frame that carries one chat text (a Chatter message frame,
 * a floor message, a Socket.IO event): one `indexOf`, where scanMarkers needs a second to find
 * that there is no other. At millions of deliveries a second, each native call counts.
 */
export function readMarker(buf, onMarker, start = 0, end = buf.length) {
  let pos = start;
  for (;;) {
    const at = buf.indexOf(MARKER, pos);
    if (at === -1 || at >= end) return 0;
    pos = at + MARKER.length;
    const no = readDigits(buf, pos, end);
    if (!no || buf[no[1]] !== COLON) continue;
    const sent = readDigits(buf, no[1] + 1, end);
    if (!sent || buf[sent[1]] !== COLON) continue;
    onMarker(no[0], sent[0]);
    return 1;
  }
}

/** Parse the marker out of a text string (history replays arrive as parsed JSON). */
export function parseBenchText(text) {
  const m = /^bm:(\d+):(\d+):/.exec(text);
  return m ? { msgNo: Number(m[1]), sentMicros: Number(m[2]) } : null;
}

// ---------------------------------------------------------------- Engine.IO v4 / Socket.IO v5

/** Query string a Socket.IO client uses for a websocket-only connection. */
export const EIO_QUERY = 'EIO=4&transport=websocket';

export const eio = {
  /** Engine.IO packet types (first character). */
  OPEN: 0x30, // '0' + JSON handshake
  CLOSE: 0x31,
  PING: 0x32, // '2': the server pings, the client must answer '3'
  PONG: 0x33,
  MESSAGE: 0x34, // '4' + Socket.IO packet
  /** Socket.IO packet types (second character of an Engine.IO message). */
  SIO_CONNECT: 0x30, // '40' + {"sid":...} from the server
  SIO_DISCONNECT: 0x31,
  SIO_EVENT: 0x32, // '42' + ["name", data]
  SIO_CONNECT_ERROR: 0x34,

  pong: '3',
  /** Connect to the default namespace. */
  connect: '40',
  event(name, data) {
    return `42${JSON.stringify([name, data])}`;
  },
};

/**
 * Classify one Engine.IO packet: 'open' | 'ping' | 'pong' | 'close' | 'connect' | 'event' |
 * 'connect_error' | 'disconnect' | 'unknown'.
 */
export function classifyEio(buf, start = 0) {
  const t = buf[start];
  if (t === eio.MESSAGE) {
    const s = buf[start + 1];
    if (s === eio.SIO_EVENT) return 'event';
    if (s === eio.SIO_CONNECT) return 'connect';
    if (s === eio.SIO_CONNECT_ERROR) return 'connect_error';
    if (s === eio.SIO_DISCONNECT) return 'disconnect';
    return 'unknown';
  }
  if (t === eio.PING) return 'ping';
  if (t === eio.OPEN) return 'open';
  if (t === eio.PONG) return 'pong';
  if (t === eio.CLOSE) return 'close';
  return 'unknown';
}

/** Decode a Socket.IO event packet ('42["name",data]') into {name, data}; null when it is not one. */
export function decodeSioEvent(buf) {
  if (classifyEio(buf) !== 'event') return null;
  const arr = JSON.parse(buf.toString('utf8', 2));
  return Array.isArray(arr) ? { name: arr[0], data: arr[1] } : null;
}

/** The handshake object of an Engine.IO open packet. */
export function decodeEioOpen(buf) {
  return JSON.parse(buf.toString('utf8', 1));
}

// ---------------------------------------------------------------- Chatter

export function chatterSend(room, clientId, text) {
  return JSON.stringify({ type: 'send', room, clientId, text });
}

/**
 * Chatter WebSocket URL with the bench's query: no initial history, optional resume state.
 * @param {{ history?: number, resume?: Record<string, number> }} [options]
 */
export function chatterWsPath({ history = 0, resume } = {}) {
  const q = [`history=${history}`];
  if (resume && Object.keys(resume).length) {
    q.push(`resume=${encodeURIComponent(Object.entries(resume).map(([room, seq]) => `${room}:${seq}`).join(','))}`);
  }
  return `/ws?${q.join('&')}`;
}

/**
 * Offsets [start, end) of each frame of one (possibly coalesced) server message.
 * @param {Buffer} buf
 * @returns {[number, number][]}
 */
export function splitFrames(buf) {
  /** @type {[number, number][]} */
  const out = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(NEWLINE, start);
    const end = nl === -1 ? buf.length : nl;
    if (end > start) out.push([start, end]);
    if (nl === -1) return out;
    start = nl + 1;
  }
}

const TYPE_PREFIX = Buffer.from('{"type":"');
const QUOTE = 0x22;

/**
 * The `type` of the frame buf[start, end). Fast when the server writes `type` first (it does);
 * otherwise falls back to JSON.parse, which is correct but slower.
 */
export function frameType(buf, start = 0, end = buf.length) {
  if (end - start > TYPE_PREFIX.length && buf.compare(TYPE_PREFIX, 0, TYPE_PREFIX.length, start, start + TYPE_PREFIX.length) === 0) {
    const from = start + TYPE_PREFIX.length;
    const close = buf.indexOf(QUOTE, from);
    if (close !== -1 && close < end) return buf.toString('latin1', from, close);
  }
  try {
    const t = JSON.parse(buf.toString('utf8', start, end))?.type;
    return typeof t === 'string' ? t : 'unknown';
  } catch {
    return 'invalid';
  }
}

/**
 * How the server writes a new message (protocol 2): an `event` frame whose event is
 * `message_created`, `type` first, then the event with `kind` first, then its room and seq
 * (packages/server/src/conversations/present.ts builds it, actions.ts serializes it once).
 */
const MESSAGE_PREFIX = Buffer.from('{"type":"event","event":{"kind":"message_created"');
const ROOM_KEY = Buffer.from(',"room":"');

/**
 * Whether buf[start, end) is a Chatter new-message event, by its first bytes (the server writes
 * `type` and `kind` first). Compared byte by byte in JavaScript: shorter than the call into
 * Buffer#compare.
 */
export function isMessageFrame(buf, start = 0, end = buf.length) {
  const n = MESSAGE_PREFIX.length;
  if (end - start <= n) return false;
  for (let i = 0; i < n; i++) if (buf[start + i] !== MESSAGE_PREFIX[i]) return false;
  return true;
}

/**
 * The room id of a message event recognised by `isMessageFrame`, or null. Read in place, right
 * after the prefix: only clients in several rooms need it (one short string per delivery).
 */
export function messageRoom(buf, start = 0, end = buf.length) {
  const from = start + MESSAGE_PREFIX.length;
  for (let i = 0; i < ROOM_KEY.length; i++) if (buf[from + i] !== ROOM_KEY[i]) return null;
  const idStart = from + ROOM_KEY.length;
  const close = buf.indexOf(QUOTE, idStart);
  if (close === -1 || close >= end) return null;
  return buf.toString('latin1', idStart, close);
}

/** The server's frame for a new message, as it serializes it: what the coalescing floor writes. */
export function messageEventFrame({ room, seq, at, author, text, clientId }) {
  return JSON.stringify({
    type: 'event',
    event: {
      kind: 'message_created',
      room,
      seq,
      at,
      actorId: author.id,
      message: { id: seq, room, seq, author, text, clientId, createdAt: at, version: seq, editedAt: null, deleted: false, mentions: [], reactions: [] },
    },
  });
}

/** The generic ack (protocol 2), in the server's key order (gateway.ts `ackFrame`). */
export function ackFrame({ clientId, room, seq, messageId, createdAt }) {
  return JSON.stringify({ type: 'ack', clientId, room, seq, duplicate: false, ...(messageId !== undefined && { messageId, createdAt }) });
}

const SEQ_KEY = Buffer.from('"seq":');

/** The first `"seq":N` in buf[start, end), or -1. A message frame has exactly one. */
export function readSeq(buf, start = 0, end = buf.length) {
  const at = buf.indexOf(SEQ_KEY, start);
  if (at === -1 || at >= end) return -1;
  const r = readDigits(buf, at + SEQ_KEY.length, end);
  return r ? r[0] : -1;
}

export function parseFrame(buf, start = 0, end = buf.length) {
  return JSON.parse(buf.toString('utf8', start, end));
}
