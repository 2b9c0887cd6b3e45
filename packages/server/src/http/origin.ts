import type { IncomingMessage } from 'node:http';
import type { TrustProxy } from '../config.js';
import { fromTrustedProxy } from './client-ip.js';

/**
 * Exact-match origin check. A browser's Origin must equal this server's own origin (scheme, host
 * and port as the browser addressed it) or one of the configured extra origins. Used for browser
 * WebSocket upgrades (cross-site WebSocket hijacking) and cookie-authenticated writes (CSRF).
 */
export function isAllowedOrigin(origin: string, req: IncomingMessage, allowed: readonly string[], trustProxy: TrustProxy): boolean {
  if (allowed.includes(origin)) return true;
  const host = req.headers.host;
  if (!host) return false;
  return origin === `${scheme(req, trustProxy)}://${host}`;
}

export function isHttps(req: IncomingMessage, trustProxy: TrustProxy): boolean {
  return scheme(req, trustProxy) === 'https';
}

/**
 * The scheme the client used. X-Forwarded-Proto counts only when the TCP peer is a trusted proxy
 * (anyone else could send it); its last entry is the one that proxy wrote, as Fastify reads it.
 */
function scheme(req: IncomingMessage, trustProxy: TrustProxy): string {
  if ((req.socket as { encrypted?: boolean }).encrypted) return 'https';
  const header = req.headers['x-forwarded-proto'];
  if (header && fromTrustedProxy(req, trustProxy)) {
    const last = String(header).split(',').at(-1)?.trim().toLowerCase();
    if (last === 'https' || last === 'http') return last;
  }
  return 'http';
}
