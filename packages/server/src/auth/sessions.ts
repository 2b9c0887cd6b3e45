import type { FanoutBus } from '../bus/types.js';
import type { ChatStore, SessionRecord, UserRecord } from '../storage/types.js';
import { hashToken, newToken } from './tokens.js';

export interface Authenticated {
  user: UserRecord;
  session: SessionRecord;
}

export const SESSION_COOKIE = 'chatter_session';

/** Sliding expiry is written at most this often per session, so reads don't turn into writes. */
const EXTEND_EVERY_MS = 60 * 60 * 1000;

/**
 * Session lifecycle: create, authenticate (with sliding expiry), revoke. Revocations are
 * announced on the bus so that every node closes the sockets of those sessions at once.
 *
 * Two clocks end a session: the sliding one (`ttlMs` without use) and an absolute one (`maxAgeMs`
 * after sign-in, however busy), so that a stolen token that is used every day still dies.
 */
export class SessionService {
  constructor(
    private readonly store: ChatStore,
    private readonly bus: FanoutBus,
    private readonly ttlMs: number,
    private readonly maxAgeMs: number = Infinity,
  ) {}

  /** The expiry a session created at `createdAt` gets when used at `now`. */
  private expiryAt(createdAt: number, now: number): number {
    return Math.min(now + this.ttlMs, createdAt + this.maxAgeMs);
  }

  async create(userId: number, device = '', now = Date.now()): Promise<{ token: string; session: SessionRecord }> {
    const token = newToken();
    const session = await this.store.createSession({ tokenHash: hashToken(token), userId, createdAt: now, expiresAt: this.expiryAt(now, now), device });
    return { token, session };
  }

  /** The session behind a token, without extending it, or null when unknown. */
  async peek(token: string): Promise<SessionRecord | null> {
    if (token.length === 0 || token.length > 256) return null;
    return this.store.getSessionByTokenHash(hashToken(token));
  }

  /** The session and user behind a token, or null when unknown or expired. Extends the expiry. */
  async authenticate(token: string, now = Date.now()): Promise<Authenticated | null> {
    if (token.length === 0 || token.length > 256) return null;
    const session = await this.store.getSessionByTokenHash(hashToken(token));
    if (!session) return null;
    if (session.expiresAt <= now || session.createdAt + this.maxAgeMs <= now) {
      await this.store.deleteSession(session.id);
      return null;
    }
    const user = await this.store.getUserById(session.userId);
    if (!user) return null;
    return { user, session: await this.touch(session, now) };
  }

  /**
   * Push the expiry out to now + TTL (sliding, but never past the absolute maximum) and record the
   * use, writing only when it moved enough to matter: `lastSeenAt` is as coarse as the expiry.
   */
  async touch(session: SessionRecord, now = Date.now()): Promise<SessionRecord> {
    const expiresAt = this.expiryAt(session.createdAt, now);
    if (expiresAt - session.expiresAt < Math.min(EXTEND_EVERY_MS, this.ttlMs / 2)) return session;
    await this.store.extendSession(session.id, expiresAt, now);
    return { ...session, expiresAt, lastSeenAt: now };
  }

  async revoke(sessionId: number): Promise<void> {
    await this.store.deleteSession(sessionId);
    this.bus.publish({ kind: 'sessions_ended', sessionIds: [sessionId] });
  }

  /** Revoke one of a user's sessions; false (and nothing happens) when it is not theirs. */
  async revokeOwn(userId: number, sessionId: number): Promise<boolean> {
    if (!(await this.store.deleteUserSession(userId, sessionId))) return false;
    this.bus.publish({ kind: 'sessions_ended', sessionIds: [sessionId] });
    return true;
  }

  /** A user's live sessions, most recently seen first. */
  async list(userId: number, now = Date.now()): Promise<SessionRecord[]> {
    const all = await this.store.listUserSessions(userId);
    return all.filter((s) => s.expiresAt > now && s.createdAt + this.maxAgeMs > now);
  }

  /** Revoke every session of a user but one (password change signs out everywhere else). */
  async revokeOthers(userId: number, keepSessionId: number): Promise<number[]> {
    const ids = await this.store.deleteUserSessions(userId, keepSessionId);
    if (ids.length > 0) this.bus.publish({ kind: 'sessions_ended', sessionIds: ids });
    return ids;
  }
}
