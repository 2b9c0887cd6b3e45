// A lean WebSocket client on a raw `net.Socket`, for the load generator's many receiving sockets.
// The `ws` client costs the generator more per delivery than the servers under test spend (every
// fan-out row of the first runs of record was generator-bound): an EventEmitter emit, a Buffer and
// often a concat per message, UTF-8 checks. This one does the least a correct client must:
//   - the HTTP upgrade by hand (one request, the 101 and its Sec-WebSocket-Accept checked);
//   - every read goes into ONE buffer shared by all sockets (`onread`: the kernel copies straight
//     into it, no Buffer per read), and each complete frame is handed on in place as
//     (buffer, start, end); only a frame split across reads, or a fragmented message, is copied;
//   - one clock read per read from the socket: every message in one TCP read arrived at the same
//     moment, so they share it (`onmessage`'s last argument);
//   - masked client frames for the few frames it sends; pings answered with pongs; close frames
//     answered and their code reported.
// It speaks the subset of `ws` that BenchClient needs (readyState, send, close, terminate), with
// plain callback properties instead of events.
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/**
 * What follows every message handed on that is the last of its read: a newline and a marker
 * prefix. The receivers scan forward with `indexOf` (for "\n" between Chatter frames, for "bm:"
 * markers), which has no end bound; past the last message of a read lie stale bytes of earlier
 * reads, and without the sentinel a scan could run through all of them.
 */
const SENTINEL = Buffer.from('\nbm:');

/**
 * The one read buffer. Safe to share: Node calls `onread` synchronously with the bytes just read
 * into it, and the reader consumes (or copies) them before returning. The kernel fills READ_BUFFER;
 * the sentinel goes just past the bytes read, in the spare bytes of BACKING.
 */
const BACKING = Buffer.allocUnsafe(256 * 1024 + SENTINEL.length);
const READ_BUFFER = BACKING.subarray(0, 256 * 1024);

/**
 * Length of the whole frame (header and payload) that starts at buf[start], or -1 when fewer bytes
 * than its header are in buf[start, end).
 */
export function frameLength(buf, start, end) {
  const have = end - start;
  if (have < 2) return -1;
  const b1 = buf[start + 1];
  const maskLength = b1 & 0x80 ? 4 : 0;
  const len = b1 & 0x7f;
  if (len < 126) return 2 + maskLength + len;
  if (len === 126) return have < 4 ? -1 : 4 + maskLength + buf.readUInt16BE(start + 2);
  if (have < 10) return -1;
  return 10 + maskLength + buf.readUInt32BE(start + 2) * 0x1_0000_0000 + buf.readUInt32BE(start + 6);
}

/** Bytes of the frame header that starts at buf[start], given at least its first two bytes. */
function headerLength(buf, start) {
  const b1 = buf[start + 1];
  const len = b1 & 0x7f;
  return (len < 126 ? 2 : len === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
}

/**
 * The frame parser, on its own so it can be tested with hand-written frames split every way.
 * `push(chunk, start, end)` any bytes as they are read; complete messages go to
 * `onMessage(buf, start, end)` (in place in `chunk` when the frame was whole in it; the view is
 * valid only during the call), control frames to `onControl(opcode, buf, start, end)`. A frame
 * from the server must not be masked; a masked one is unmasked anyway (tests, robustness).
 */
export class FrameReader {
  /**
   * @param {(buf: Buffer, start: number, end: number) => void} onMessage
   * @param {(opcode: number, buf: Buffer, start: number, end: number) => void} [onControl]
   * @param {{ maxMessageBytes?: number }} [options]
   */
  constructor(onMessage, onControl = () => {}, { maxMessageBytes = 256 * 1024 * 1024 } = {}) {
    this.onMessage = onMessage;
    this.onControl = onControl;
    this.maxMessageBytes = maxMessageBytes;
    /** A frame begun in an earlier read: its bytes so far are pending[0, pendingLength). */
    this.pending = null;
    this.pendingLength = 0;
    /** Payloads of a fragmented message so far (copies). */
    this.fragments = null;
    this.fragmentBytes = 0;
  }

  push(chunk, start = 0, end = chunk.length) {
    let pos = start;
    if (this.pendingLength > 0) {
      // Complete the pending frame with as few bytes as it needs: first its header, then the rest.
      if (this.pendingLength < 2) pos = this.fill(chunk, pos, end, 2);
      if (this.pendingLength < 2) return;
      const header = headerLength(this.pending, 0);
      if (this.pendingLength < header) pos = this.fill(chunk, pos, end, header);
      if (this.pendingLength < header) return;
      const total = frameLength(this.pending, 0, this.pendingLength);
      this.check(total);
      if (this.pendingLength < total) pos = this.fill(chunk, pos, end, total);
      if (this.pendingLength < total) return;
      this.pendingLength = 0;
      SENTINEL.copy(this.pending, total);
      this.frame(this.pending, 0, total);
    }
    while (pos < end) {
      const total = frameLength(chunk, pos, end);
      if (total < 0 || pos + total > end) {
        if (total >= 0) this.check(total);
        // Keep the partial frame: the read buffer is reused after this call.
        this.reserve(total < 0 ? 16 : total);
        chunk.copy(this.pending, 0, pos, end);
        this.pendingLength = end - pos;
        return;
      }
      this.frame(chunk, pos, pos + total);
      pos += total;
    }
  }

  /** Copy bytes from chunk[pos, end) onto the pending frame until it holds `target` bytes; returns the new pos. */
  fill(chunk, pos, end, target) {
    const take = Math.min(end - pos, target - this.pendingLength);
    if (take <= 0) return pos;
    this.reserve(target);
    chunk.copy(this.pending, this.pendingLength, pos, pos + take);
    this.pendingLength += take;
    return pos + take;
  }

  reserve(bytes) {
    bytes += SENTINEL.length;
    if (this.pending && this.pending.length >= bytes) return;
    const bigger = Buffer.allocUnsafe(Math.max(bytes, 4096, this.pending ? this.pending.length * 2 : 0));
    if (this.pending && this.pendingLength > 0) this.pending.copy(bigger, 0, 0, this.pendingLength);
    this.pending = bigger;
  }

  check(total) {
    if (total > this.maxMessageBytes + 14) throw new Error(`frame of ${total} bytes is over the limit`);
  }

  /** One whole frame at buf[start, end). */
  frame(buf, start, end) {
    const b0 = buf[start];
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (buf[start + 1] & 0x80) !== 0;
    const payload = start + headerLength(buf, start);
    if (masked) {
      const key = payload - 4;
      for (let i = payload; i < end; i++) buf[i] ^= buf[key + ((i - payload) & 3)];
    }
    if (opcode >= OP_CLOSE) {
      this.onControl(opcode, buf, payload, end);
      return;
    }
    if (opcode === OP_CONTINUATION) {
      if (!this.fragments) throw new Error('continuation frame without a message to continue');
      this.addFragment(buf, payload, end);
      if (fin) {
        const message = Buffer.concat(this.fragments, this.fragmentBytes);
        this.fragments = null;
        this.fragmentBytes = 0;
        this.onMessage(message, 0, message.length);
      }
      return;
    }
    if (opcode !== OP_TEXT && opcode !== OP_BINARY) throw new Error(`unknown opcode ${opcode}`);
    if (this.fragments) throw new Error('new message before the fragmented one ended');
    if (fin) {
      this.onMessage(buf, payload, end);
      return;
    }
    this.fragments = [];
    this.fragmentBytes = 0;
    this.addFragment(buf, payload, end);
  }

  addFragment(buf, start, end) {
    this.fragmentBytes += end - start;
    if (this.fragmentBytes > this.maxMessageBytes) throw new Error(`message over ${this.maxMessageBytes} bytes`);
    this.fragments.push(Buffer.from(buf.subarray(start, end)));
  }
}

/** Mask keys come from a pool refilled in bulk: one crypto call per 1,024 frames sent. */
let maskPool = Buffer.alloc(0);
let maskAt = 0;
function nextMaskAt() {
  if (maskAt + 4 > maskPool.length) {
    maskPool = randomFillSync(Buffer.allocUnsafe(4096));
    maskAt = 0;
  }
  const at = maskAt;
  maskAt += 4;
  return at;
}

/** One final, masked client frame around `payload` (a string is sent as text, a Buffer as binary). */
export function clientFrame(payload, opcode = typeof payload === 'string' ? OP_TEXT : OP_BINARY) {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const header = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 0x10000) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  const key = header;
  maskPool.copy(frame, key, nextMaskAt(), maskAt);
  const body = key + 4;
  if (typeof payload === 'string') frame.write(payload, body);
  else payload.copy(frame, body);
  for (let i = 0; i < length; i++) frame[body + i] ^= frame[key + (i & 3)];
  return frame;
}

/**
 * A WebSocket client connection. Callbacks (set them before the connection opens):
 * `onopen()`, `onmessage(buf, start, end, receivedAtMs)` (the view is valid only during the call;
 * receivedAtMs is performance.now() at the read that completed the message), `onerror(err)`,
 * `onclose(code)` (once; 1006 when the connection ended without a close frame).
 */
export class RawWebSocket {
  /**
   * @param {string} url ws://host:port/path?query
   * @param {{ headers?: Record<string, string>, localAddress?: string, handshakeTimeout?: number }} [options]
   */
  constructor(url, { headers = {}, localAddress, handshakeTimeout = 60000 } = {}) {
    const u = new URL(url);
    if (u.protocol !== 'ws:') throw new Error(`only ws:// URLs: ${url}`);
    this.readyState = CONNECTING;
    this.onopen = null;
    this.onmessage = null;
    this.onerror = null;
    this.onclose = null;
    this.closeCode = 1006;
    this.receivedAt = 0;
    this.handshake = null; // bytes of the HTTP response so far, until the 101 is complete
    this.reader = new FrameReader(
      (buf, start, end) => this.onmessage?.(buf, start, end, this.receivedAt),
      (opcode, buf, start, end) => this.control(opcode, buf, start, end),
    );
    const key = randomBytes(16).toString('base64');
    this.expectedAccept = createHash('sha1').update(key + GUID).digest('base64');
    const port = Number(u.port || 80);
    const lines = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    const socket = net.connect({
      host: u.hostname,
      port,
      ...(localAddress && { localAddress }),
      onread: { buffer: READ_BUFFER, callback: (n, buf) => this.read(buf, n) },
    });
    this.socket = socket;
    socket.setNoDelay(true);
    this.timer = setTimeout(() => this.failHandshake(new Error('Opening handshake has timed out')), handshakeTimeout);
    socket.once('connect', () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    socket.on('error', (err) => {
      if (this.readyState === CONNECTING) this.failHandshake(err);
      else this.onerror?.(err);
    });
    socket.once('close', () => this.closed());
  }

  read(buf, n) {
    this.receivedAt = performance.now();
    SENTINEL.copy(BACKING, n);
    try {
      if (this.readyState === CONNECTING) this.readHandshake(buf, n);
      else if (this.readyState !== CLOSED) this.reader.push(buf, 0, n);
    } catch (err) {
      this.onerror?.(err);
      this.terminate();
    }
  }

  readHandshake(buf, n) {
    const bytes = this.handshake ? Buffer.concat([this.handshake, buf.subarray(0, n)]) : Buffer.from(buf.subarray(0, n));
    const end = bytes.indexOf('\r\n\r\n');
    if (end === -1) {
      if (bytes.length > 16384) return this.failHandshake(new Error('handshake response too large'));
      this.handshake = bytes;
      return;
    }
    this.handshake = null;
    const head = bytes.toString('latin1', 0, end).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0])?.[1] ?? 0);
    // The same words as `ws`, so error counts read the same as before.
    if (status !== 101) return this.failHandshake(new Error(`Unexpected server response: ${status}`));
    const accept = head.find((line) => /^sec-websocket-accept:/i.test(line))?.slice(21).trim();
    if (accept !== this.expectedAccept) return this.failHandshake(new Error('Invalid Sec-WebSocket-Accept header'));
    clearTimeout(this.timer);
    this.readyState = OPEN;
    this.onopen?.();
    // Frames the server wrote right after the 101 (Chatter's hello) may share the read.
    if (bytes.length > end + 4 && this.readyState === OPEN) this.reader.push(bytes, end + 4, bytes.length);
  }

  failHandshake(err) {
    if (this.readyState !== CONNECTING) return;
    clearTimeout(this.timer);
    this.onerror?.(err);
    this.terminate();
  }

  control(opcode, buf, start, end) {
    if (opcode === OP_PING) {
      if (this.readyState === OPEN) this.socket.write(clientFrame(Buffer.from(buf.subarray(start, end)), OP_PONG));
    } else if (opcode === OP_CLOSE) {
      this.closeCode = end - start >= 2 ? buf.readUInt16BE(start) : 1005;
      if (this.readyState === OPEN) this.socket.write(clientFrame(Buffer.from(buf.subarray(start, Math.min(end, start + 2))), OP_CLOSE));
      this.readyState = CLOSING;
      this.socket.end();
    }
    // A pong: nothing to do.
  }

  send(data) {
    if (this.readyState !== OPEN) return;
    this.socket.write(clientFrame(data));
  }

  /** A close handshake: our close frame, then the server's answer ends the connection. */
  close(code = 1000) {
    if (this.readyState !== OPEN) return this.terminate();
    const body = Buffer.allocUnsafe(2);
    body.writeUInt16BE(code, 0);
    this.socket.write(clientFrame(body, OP_CLOSE));
    this.readyState = CLOSING;
    this.socket.end();
  }

  /** Abrupt: the connection is destroyed, as when a network goes away. */
  terminate() {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    this.socket.destroy();
  }

  closed() {
    clearTimeout(this.timer);
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.onclose?.(this.closeCode);
  }
}
