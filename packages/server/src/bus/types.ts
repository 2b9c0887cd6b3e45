import type { PublicUser } from '@chatter/protocol';

/**
 * The fan-out seam. A node publishes events here and every node (itself included) receives them
 * and delivers them to its own sockets. The in-process bus is the embedded default; a Redis bus
 * can take its place for many nodes without the rest of the server knowing.
 *
 * Frames travel pre-serialized: a room event is JSON-encoded once, by the node that produced it,
 * and never re-encoded per node or per recipient.
 */
export type BusEvent =
  /**
   * Deliver `frame` (one serialized server frame) to every socket in `room`. `seq` is set for
   * `event` frames (their event's seq), so sockets that just replayed the log skip repeats.
   */
  | { kind: 'room'; room: string; frame: string; seq?: number }
  /**
   * A user joined (`joined`) or left a room: every node subscribes or unsubscribes that user's
   * sockets at once, before the room's next event. `seq` is the event that changed the membership:
   * a new member receives it and what follows, not the events queued before it.
   */
  | { kind: 'membership'; room: string; userId: number; joined: boolean; seq?: number }
  /**
   * Deliver `frame` (serialized) to every socket of one user: read_state, room_joined, room_left.
   * With `presence`, each socket then gets that room's `presence` list (after `room_joined`).
   */
  | { kind: 'user'; userId: number; frame: string; presence?: string }
  /** These sessions ended (logout, password change): close their sockets with 4002. */
  | { kind: 'sessions_ended'; sessionIds: number[] }
  /** A user's public profile changed: nodes refresh the copies they hold (presence, message authors). */
  | { kind: 'user_updated'; user: PublicUser }
  /**
   * Who may write in a room changed: a member left, was removed or got a new role (`userId`), or the
   * room was archived or restored (`userId` null). Nodes forget what they remembered of it (AccessCache).
   */
  | { kind: 'access_changed'; room: string; userId: number | null };

export interface FanoutBus {
  publish(event: BusEvent): void;
  /** Returns an unsubscribe function. */
  subscribe(listener: (event: BusEvent) => void): () => void;
  close(): Promise<void>;
}
