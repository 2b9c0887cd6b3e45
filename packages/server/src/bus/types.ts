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
   * `message` frames (their message's seq), so sockets that just replayed history skip repeats.
   */
  | { kind: 'room'; room: string; frame: string; seq?: number }
  /** These sessions ended (logout, password change): close their sockets with 4002. */
  | { kind: 'sessions_ended'; sessionIds: number[] }
  /** A user's public profile changed: nodes refresh the copies they hold (presence, message authors). */
  | { kind: 'user_updated'; user: PublicUser };

export interface FanoutBus {
  publish(event: BusEvent): void;
  /** Returns an unsubscribe function. */
  subscribe(listener: (event: BusEvent) => void): () => void;
  close(): Promise<void>;
}
