import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { isHttps } from '../http/origin.js';
import type { ChatStore } from '../storage/types.js';
import { hashToken, newToken } from './tokens.js';

export const DEVICE_COOKIE = 'chatter_device';

/**
 * Device cookies: proof that this browser signed in to an account successfully before, so that the
 * sign-in throttles other people's guessing caused do not apply to it (see LoginThrottle). The
 * cookie is 256 random bits, HttpOnly, sent only to /api, and stored on the server only as a hash,
 * like session tokens. It says nothing about who is signed in and grants no access by itself.
 */
export class DeviceCookies {
  constructor(
    private readonly store: ChatStore,
    private readonly config: Config,
  ) {}

  /** The key of the request's device cookie when it was issued to `userId` and is still valid. */
  async trustedFor(request: FastifyRequest, userId: number, now = Date.now()): Promise<string | undefined> {
    const value = request.cookies[DEVICE_COOKIE];
    if (!value || value.length > 256) return undefined;
    const hash = hashToken(value);
    const device = await this.store.getLoginDevice(hash);
    if (!device || device.userId !== userId || device.expiresAt <= now) return undefined;
    return hash.toString('base64url');
  }

  /** After a successful sign-in: hand out a device cookie unless the browser already has one for this user. */
  async issue(request: FastifyRequest, reply: FastifyReply, userId: number, now = Date.now()): Promise<void> {
    if (await this.trustedFor(request, userId, now)) return;
    const value = newToken();
    await this.store.createLoginDevice({ tokenHash: hashToken(value), userId, createdAt: now, expiresAt: now + this.config.deviceCookieTtlMs });
    const secure = this.config.cookieSecure === 'auto' ? isHttps(request.raw, this.config.trustProxy) : this.config.cookieSecure;
    reply.setCookie(DEVICE_COOKIE, value, {
      httpOnly: true,
      sameSite: 'strict',
      secure,
      path: '/api',
      maxAge: Math.floor(this.config.deviceCookieTtlMs / 1000),
    });
  }

  /** A device cookie that failed too often is no longer trusted, on any node. */
  async forget(key: string): Promise<void> {
    await this.store.deleteLoginDevice(Buffer.from(key, 'base64url'));
  }
}

/**
 * A short human summary of a User-Agent, for the list of a user's sessions: "Chrome on Linux",
 * "chatter CLI". Only a few well-known names are recognised; anything else is shown by the first
 * word of its User-Agent, cleaned, so that a client cannot put arbitrary text in someone's list.
 */
export function describeDevice(userAgent: string | undefined): string {
  const ua = (userAgent ?? '').slice(0, 512);
  if (ua.trim() === '') return 'Unknown device';
  if (/^chatter-cli\b/i.test(ua)) return 'chatter CLI';
  if (/^chatter-sdk\b/i.test(ua)) return 'Chatter SDK';
  if (/^node\b/i.test(ua)) return 'Node.js';
  if (/^curl\//i.test(ua)) return 'curl';
  const browser = /\bEdg(e|A|iOS)?\//.test(ua)
    ? 'Edge'
    : /\bOPR\//.test(ua)
      ? 'Opera'
      : /\b(Firefox|FxiOS)\//.test(ua)
        ? 'Firefox'
        : /\b(Chrome|CriOS|HeadlessChrome|Chromium)\//.test(ua)
          ? 'Chrome'
          : /\bSafari\//.test(ua) && /\bVersion\//.test(ua)
            ? 'Safari'
            : null;
  const os = /\b(iPhone|iPad|iPod)\b/.test(ua)
    ? 'iOS'
    : /\bAndroid\b/.test(ua)
      ? 'Android'
      : /\bWindows\b/.test(ua)
        ? 'Windows'
        : /\bCrOS\b/.test(ua)
          ? 'ChromeOS'
          : /\bMac OS X\b|\bMacintosh\b/.test(ua)
            ? 'macOS'
            : /\bLinux\b/.test(ua)
              ? 'Linux'
              : null;
  if (browser && os) return `${browser} on ${os}`;
  if (browser) return browser;
  const word = (/^[A-Za-z0-9._-]+/.exec(ua)?.[0] ?? '').slice(0, 40);
  if (os) return word && word !== 'Mozilla' ? `${word} on ${os}` : `Browser on ${os}`;
  return word || 'Unknown device';
}
