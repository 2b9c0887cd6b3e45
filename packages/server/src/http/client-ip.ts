import proxyAddr from '@fastify/proxy-addr';
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import type { Config, TrustProxy } from '../config.js';

/** proxy-addr's test: may the hop at distance `i` (0: the TCP peer) tell us who is behind it? */
export type ProxyTrust = (addr: string, i: number) => boolean;

const compiled = new WeakMap<readonly string[], ProxyTrust>();

/**
 * The one reading of CHATTER_TRUST_PROXY, given to Fastify (`request.ip`, `request.protocol`) and
 * used by `clientIp` and `origin.ts`, so that every part of the server agrees on who the client is.
 * A hop count trusts the nearest hops whoever they are (Fastify itself refuses to, given a bare
 * number), so it is safe only when Chatter cannot be reached except through the proxies.
 */
export function proxyTrust(setting: TrustProxy): ProxyTrust {
  if (setting === false) return () => false;
  if (typeof setting === 'number') return (_addr, i) => i < setting;
  let trust = compiled.get(setting);
  if (!trust) {
    trust = proxyAddr.compile(setting);
    compiled.set(setting, trust);
  }
  return trust;
}

/**
 * The address of the client behind a request or upgrade, for throttles and caps: walking
 * X-Forwarded-For from the right, the first address not vouched for by a trusted hop. Without a
 * trusted proxy, the TCP peer; a client cannot choose its address by sending the header itself.
 */
export function clientIp(req: IncomingMessage, config: Pick<Config, 'trustProxy'>): string {
  if (config.trustProxy === false) return req.socket.remoteAddress ?? 'unknown';
  return proxyAddr(req, proxyTrust(config.trustProxy)) ?? req.socket.remoteAddress ?? 'unknown';
}

/** Whether the request's TCP peer is a trusted proxy, whose X-Forwarded-* headers count. */
export function fromTrustedProxy(req: IncomingMessage, setting: TrustProxy): boolean {
  const peer = req.socket.remoteAddress;
  return peer !== undefined && proxyTrust(setting)(peer, 0);
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
