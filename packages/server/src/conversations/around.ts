import { AppError } from '../errors.js';
import type { ChatStore, HistoryPage, MessageWithAuthor } from '../storage/types.js';

/** The page around one message (a message link): two ordinary history reads meeting at it. */
export interface AroundPage {
  target: MessageWithAuthor;
  /** Oldest first, ending with the target. `hasMore`: older messages exist before them. */
  older: HistoryPage;
  /** Oldest first, after the target. `hasMore`: newer messages exist after them. */
  newer: HistoryPage;
  /**
   * The older read's `lastSeq`: the two reads are separate snapshots, and the whole page reflects
   * every event up to the first one's end (the second saw at least as much).
   */
  lastSeq: number;
}

/**
 * Read up to `limit` messages around `messageId`: the message, about half the rest before it and
 * the other half after it. A message link may name a message far back in history, so this is built
 * from the `before` and `after` reads every page uses (the same index, the same membership spans:
 * the older read covers the log up to the target, the newer one from just after it, so together
 * they cover one contiguous span and a membership line shows once). The caller has checked that
 * the reader may read the room; a message that is not in it is `message_not_found`, which a
 * reader cannot tell from a room they may not see (both 404).
 */
export async function readAround(store: ChatStore, roomId: string, messageId: number, limit: number): Promise<AroundPage> {
  const target = await store.getMessage(roomId, messageId);
  if (!target) throw new AppError('message_not_found');
  const newerWanted = Math.floor((limit - 1) / 2);
  const older = await store.getMessages(roomId, { before: target.seq + 1, limit: limit - newerWanted });
  // A page of at least one row: a read of none cannot say whether more exist.
  const newerRead = await store.getMessages(roomId, { after: target.seq, limit: Math.max(1, newerWanted) });
  const newer: HistoryPage =
    newerWanted > 0
      ? newerRead
      : { messages: [], hasMore: newerRead.messages.length > 0 || newerRead.hasMore, lastSeq: newerRead.lastSeq, membership: [] };
  return { target, older, newer, lastSeq: older.lastSeq };
}
