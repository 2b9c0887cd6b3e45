import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import type { Config } from '../config.js';

/**
 * The address of the client behind a request or upgrade, for throttles and caps. Behind a trusted
 * reverse proxy that is the address the proxy saw; otherwise the TCP peer.
 */
export function clientIp(req: IncomingMessage, config: Pick<Config, 'trustProxy'>): string {
  if (config.trustProxy) {
    const forwarded = String(req.headers['x-forwarded-for'] ?? '').split(',')[0]?.trim();
    if (forwarded) return forwarded;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * The key a throttle counts an address under. One IPv6 subscriber usually holds a whole /64 and can
 * pick any address in it, so IPv6 addresses count by their /64 prefix; IPv4 (and IPv4-mapped IPv6)
 * addresses count alone.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}
