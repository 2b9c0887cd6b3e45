/**
 * The HTTP side of a WebSocket upgrade: reading its credentials and parameters, answering a refused
 * one with the catalogue's JSON, and giving its place under the socket caps back when it closes.
 */
import { LIMITS, type ErrorCode, type ResumeState } from '@chatter/protocol';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Admission, Reservation } from './admission.js';

export interface ConnectOptions {
  history: number;
  resume?: ResumeState;
}

export function destroySocket(this: Duplex): void {
  this.destroy();
}

/**
 * What is wrong with the handshake itself, checked as `ws` would before it upgrades: `ws` answers
 * these with a plain-text body, and every error a client sees should be the catalogue's JSON.
 */
export function handshakeProblem(req: IncomingMessage): string | null {
  if (req.method !== 'GET') return 'A WebSocket upgrade must be a GET request.';
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return 'Send "Upgrade: websocket".';
  if (!/^[+/0-9A-Za-z]{22}==$/.test(req.headers['sec-websocket-key'] ?? '')) return 'Missing or invalid Sec-WebSocket-Key header.';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'Missing or unsupported Sec-WebSocket-Version header (use 13).';
  return null;
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

export function parseConnectParams(params: URLSearchParams, defaultHistory: number): { ok: true; value: ConnectOptions } | { ok: false; message: string } {
  const value: ConnectOptions = { history: defaultHistory };
  const history = params.get('history');
  if (history !== null) {
    const n = Number(history);
    if (!/^\d+$/.test(history) || n > LIMITS.historyPageMax) return { ok: false, message: `history must be 0-${LIMITS.historyPageMax}` };
    value.history = n;
  }
  const resume = params.get('resume');
  if (resume !== null && resume !== '') {
    value.resume = {};
    const parts = resume.split(',');
    if (parts.length > LIMITS.resumeRoomsMax) return { ok: false, message: `resume may name at most ${LIMITS.resumeRoomsMax} rooms` };
    for (const part of parts) {
      const match = /^([a-z0-9][a-z0-9_-]{0,63}):(\d{1,15})$/.exec(part);
      if (!match) return { ok: false, message: 'resume must look like general:120,other:5' };
      value.resume[match[1]!] = Number(match[2]);
    }
  }
  return { ok: true, value };
}

export function rejectUpgrade(socket: Duplex, status: number, code: ErrorCode, message: string, retryAfter?: number): void {
  const body = JSON.stringify({ error: { code, message, ...(retryAfter !== undefined && { details: { retryAfter } }) } });
  const reason = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' }[status] ?? 'Error';
  const retry = retryAfter !== undefined ? `Retry-After: ${retryAfter}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n${retry}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** The TCP socket of an upgrade, with its place under the caps. */
type ReservedSocket = Duplex & { [RESERVATION]?: { admission: Admission; reservation: Reservation } };
const RESERVATION = Symbol('reservation');

/**
 * Give the socket's place under the caps back when its TCP socket closes, whatever closed it. One
 * shared listener (the reservation rides on the socket) rather than a closure per socket.
 */
export function releaseOnClose(socket: Duplex, admission: Admission, reservation: Reservation): void {
  (socket as ReservedSocket)[RESERVATION] = { admission, reservation };
  socket.on('close', releaseReservation);
}

function releaseReservation(this: ReservedSocket): void {
  const held = this[RESERVATION];
  if (held) held.admission.release(held.reservation);
}
