import type { IncomingMessage } from 'node:http';

/**
 * Exact-match origin check. A browser's Origin must equal this server's own origin (scheme, host
 * and port as the browser addressed it) or one of the configured extra origins. Used for browser
 * WebSocket upgrades (cross-site WebSocket hijacking) and cookie-authenticated writes (CSRF).
 */
export function isAllowedOrigin(origin: string, req: IncomingMessage, allowed: readonly string[], trustProxy: boolean): boolean {
  if (allowed.includes(origin)) return true;
  const host = req.headers.host;
  if (!host) return false;
  const forwardedProto = trustProxy ? String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() : '';
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const scheme = forwardedProto || (encrypted ? 'https' : 'http');
  return origin === `${scheme}://${host}`;
}

export function isHttps(req: IncomingMessage, trustProxy: boolean): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  return trustProxy && String(req.headers['x-forwarded-proto'] ?? '').startsWith('https');
}
