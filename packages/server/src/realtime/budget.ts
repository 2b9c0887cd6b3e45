import type { ClientFrameType } from '@chatter/protocol';
import type { Config } from '../config.js';

/**
 * What each client frame costs from the frame budgets, in units. A frame that makes the server read
 * the log and build a reply costs more than one it answers from memory; a frame that fails to parse
 * costs like a ping (it was read and answered all the same). A valid `send` is paid from the user's
 * message budget instead (CHATTER_MESSAGES_PER_SECOND), so that raising the message rate raises
 * what a client may send, as it always has; so are the other changes to the log (edit, delete,
 * react), which cost the same to store and fan out. `read` and `typing` write nothing to the log
 * (typing is dropped past one notice per user and room every few seconds) and cost like a ping.
 */
export const FRAME_COSTS: Record<ClientFrameType | 'invalid', number> = {
  ping: 1,
  auth: 1,
  send: 0,
  edit: 0,
  delete: 0,
  react: 0,
  read: 1,
  typing: 1,
  invalid: 1,
  history: 5,
  events: 5,
  resume: 10,
};

/** A token bucket, refilled lazily: `tokens` as of `at` (epoch ms). */
export interface Bucket {
  tokens: number;
  at: number;
}

export function fullBucket(burst: number, now: number): Bucket {
  return { tokens: burst, at: now };
}

/** Refill `bucket` to `now`; return 0 if it holds `cost` tokens, else the seconds until it will. */
export function waitFor(bucket: Bucket, cost: number, perSecond: number, burst: number, now: number): number {
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
  bucket.at = now;
  if (bucket.tokens >= cost) return 0;
  // Rounded up to the millisecond, so that retrying after exactly this long succeeds.
  return Math.ceil(((cost - bucket.tokens) / perSecond) * 1000) / 1000;
}

/** What one user holds on this node: their sockets, and the budgets all of them share. */
export interface UserState {
  /** Sockets signed in as the user, counted from the moment their token was accepted. */
  sockets: number;
  frames: Bucket;
  messages: Bucket;
}

type BudgetConfig = Pick<Config, 'framesPerSecond' | 'frameBurst' | 'userFramesPerSecond' | 'userFrameBurst' | 'messagesPerSecond' | 'messageBurst'>;

/**
 * Per-user state of this node. Budgets are per node: a user connected to two nodes gets twice the
 * budget until the fan-out bus can share counters between nodes.
 *
 * A user's entry outlives their last socket until its buckets have refilled: dropping it at once
 * would hand a full budget to anyone who closes every socket and reconnects.
 */
export class UserBudgets {
  private readonly users = new Map<number, UserState>();

  constructor(private readonly config: BudgetConfig) {}

  get(userId: number, now = Date.now()): UserState {
    let state = this.users.get(userId);
    if (!state) {
      state = { sockets: 0, frames: fullBucket(this.config.userFrameBurst, now), messages: fullBucket(this.config.messageBurst, now) };
      this.users.set(userId, state);
    }
    return state;
  }

  /** Sockets the user has open (or being opened) on this node. */
  sockets(userId: number): number {
    return this.users.get(userId)?.sockets ?? 0;
  }

  /**
   * Charge a frame to the connection's bucket and the user's. Both are charged or neither is.
   * Returns 0, or the seconds until the frame would be accepted.
   */
  chargeFrame(conn: Bucket, user: UserState, cost: number, now = Date.now()): number {
    const { framesPerSecond, frameBurst, userFramesPerSecond, userFrameBurst } = this.config;
    const wait = Math.max(waitFor(conn, cost, framesPerSecond, frameBurst, now), waitFor(user.frames, cost, userFramesPerSecond, userFrameBurst, now));
    if (wait > 0) return wait;
    conn.tokens -= cost;
    user.frames.tokens -= cost;
    return 0;
  }

  /** Charge one message to the user's message budget (CHATTER_MESSAGES_PER_SECOND, per user). */
  chargeMessage(user: UserState, now = Date.now()): number {
    const wait = waitFor(user.messages, 1, this.config.messagesPerSecond, this.config.messageBurst, now);
    if (wait === 0) user.messages.tokens -= 1;
    return wait;
  }

  /** Forget users with no socket whose buckets are full again (nothing to remember about them). */
  sweep(now = Date.now()): void {
    const { userFramesPerSecond, userFrameBurst, messagesPerSecond, messageBurst } = this.config;
    for (const [id, state] of this.users) {
      if (state.sockets > 0) continue;
      if (waitFor(state.frames, userFrameBurst, userFramesPerSecond, userFrameBurst, now) === 0 && waitFor(state.messages, messageBurst, messagesPerSecond, messageBurst, now) === 0) {
        this.users.delete(id);
      }
    }
  }
}

/**
 * Refusals in a row, forgiven at one a second: a client that waits `retryAfter` as asked collects
 * one now and then; one that keeps flooding reaches the limit within seconds and is disconnected.
 */
export function strike(conn: { strikes: number; struckAt: number }, now = Date.now()): number {
  conn.strikes = Math.max(0, conn.strikes - (now - conn.struckAt) / 1000) + 1;
  conn.struckAt = now;
  return conn.strikes;
}
