import type { FanoutBus } from '../bus/types.js';
import type { ChatStore, SessionRecord, UserRecord } from '../storage/types.js';
import { hashToken, newToken } from './tokens.js';

export interface Authenticated {
  user: UserRecord;
  session: SessionRecord;
}

/** Sliding expiry is written at most this often per session, so reads don't turn into writes. */
const EXTEND_EVERY_MS = 60 * 60 * 1000;

/**
 * Session lifecycle: create, authenticate (with sliding expiry), revoke. Revocations are
 * announced on the bus so that every node closes the sockets of those sessions at once.
 */
export class SessionService {
  constructor(
    private readonly store: ChatStore,
    private readonly bus: FanoutBus,
    private readonly ttlMs: number,
  ) {}

  async create(userId: number, now = Date.now()): Promise<{ token: string; session: SessionRecord }> {
    const token = newToken();
    const session = await this.store.createSession({ tokenHash: hashToken(token), userId, createdAt: now, expiresAt: now + this.ttlMs });
    return { token, session };
  }

  /** The session and user behind a token, or null when unknown or expired. Extends the expiry. */
  async authenticate(token: string, now = Date.now()): Promise<Authenticated | null> {
    if (token.length === 0 || token.length > 256) return null;
    const session = await this.store.getSessionByTokenHash(hashToken(token));
    if (!session) return null;
    if (session.expiresAt <= now) {
      await this.store.deleteSession(session.id);
      return null;
    }
    const user = await this.store.getUserById(session.userId);
    if (!user) return null;
    return { user, session: await this.touch(session, now) };
  }

  /** Push the expiry out to now + TTL (sliding), writing only when it moved enough to matter. */
  async touch(session: SessionRecord, now = Date.now()): Promise<SessionRecord> {
    const expiresAt = now + this.ttlMs;
    if (expiresAt - session.expiresAt < Math.min(EXTEND_EVERY_MS, this.ttlMs / 2)) return session;
    await this.store.extendSession(session.id, expiresAt);
    return { ...session, expiresAt };
  }

  async revoke(sessionId: number): Promise<void> {
    await this.store.deleteSession(sessionId);
    this.bus.publish({ kind: 'sessions_ended', sessionIds: [sessionId] });
  }

  /** Revoke every session of a user but one (password change signs out everywhere else). */
  async revokeOthers(userId: number, keepSessionId: number): Promise<number[]> {
    const ids = await this.store.deleteUserSessions(userId, keepSessionId);
    if (ids.length > 0) this.bus.publish({ kind: 'sessions_ended', sessionIds: ids });
    return ids;
  }
}
