import { LIMITS, type HistoryFrame } from '@chatter/protocol';
import { presentStored } from '../messages/present.js';
import type { MessageService } from '../messages/service.js';
import type { MessageWithAuthor } from '../storage/types.js';

/**
 * History replies, bounded in bytes as well as in messages. A page of 100 messages can be 100 times
 * a message's worst case (4,000 code points that each escape to several bytes of JSON), and a
 * resume of 1,000 messages ten times that; built whole, a few such replies exhaust the heap. So a
 * reply is serialized message by message (once: the frame is assembled from the pieces) and stops
 * at the byte budget, saying `hasMore`, and a resume reads the log a page at a time.
 */

export interface Reply {
  /** The serialized `history` frame. */
  json: string;
  count: number;
  /** Seq of the newest message in the reply (0 when empty). */
  lastSeq: number;
  hasMore: boolean;
}

interface Piece {
  json: string;
  seq: number;
}

/**
 * Serialize rows (oldest first), keeping the `oldest` or `newest` ones that fit in `budget` bytes,
 * and at least one when `atLeastOne` (a reply must make progress, whatever one message weighs).
 */
function fit(rows: MessageWithAuthor[], budget: number, keep: 'oldest' | 'newest', atLeastOne = true): { pieces: Piece[]; bytes: number; cut: boolean } {
  const pieces: Piece[] = [];
  let bytes = 0;
  for (let k = 0; k < rows.length; k++) {
    const row = rows[keep === 'oldest' ? k : rows.length - 1 - k]!;
    const json = JSON.stringify(presentStored(row));
    const size = Buffer.byteLength(json) + 1;
    if ((pieces.length > 0 || !atLeastOne) && bytes + size > budget) {
      if (keep === 'newest') pieces.reverse();
      return { pieces, bytes, cut: true };
    }
    pieces.push({ json, seq: row.seq });
    bytes += size;
  }
  if (keep === 'newest') pieces.reverse();
  return { pieces, bytes, cut: false };
}

function frame(room: string, pieces: Piece[], hasMore: boolean, reason: HistoryFrame['reason'], ref: string | undefined): Reply {
  const head = `{"type":"history","room":${JSON.stringify(room)},"messages":[`;
  const tail = `],"hasMore":${hasMore},"reason":"${reason}"${ref !== undefined ? `,"ref":${JSON.stringify(ref)}` : ''}}`;
  return { json: head + pieces.map((p) => p.json).join(',') + tail, count: pieces.length, lastSeq: pieces.at(-1)?.seq ?? 0, hasMore };
}

/** A page as a `history` request asks for it: with `after`, the oldest that fit; else the newest. */
export async function historyReply(
  messages: MessageService,
  room: string,
  range: { before?: number; after?: number; limit: number },
  maxBytes: number,
  reason: HistoryFrame['reason'],
  ref?: string,
): Promise<Reply> {
  const page = await messages.history(room, range);
  const { pieces, cut } = fit(page.messages, maxBytes, range.after !== undefined ? 'oldest' : 'newest');
  return frame(room, pieces, page.hasMore || cut, reason, ref);
}

/**
 * Everything after `afterSeq`, up to `LIMITS.resumeMaxMessages` and the byte budget, read a page
 * at a time so that no more than one page of rows is in memory besides the reply.
 */
export async function resumeReply(messages: MessageService, room: string, afterSeq: number, maxBytes: number): Promise<Reply> {
  const pieces: Piece[] = [];
  let bytes = 0;
  let cursor = afterSeq;
  for (;;) {
    const limit = Math.min(LIMITS.historyPageMax, LIMITS.resumeMaxMessages - pieces.length);
    const page = await messages.history(room, { after: cursor, limit });
    const fitted = fit(page.messages, maxBytes - bytes, 'oldest', pieces.length === 0);
    for (const p of fitted.pieces) pieces.push(p);
    bytes += fitted.bytes;
    if (fitted.cut) return frame(room, pieces, true, 'resume', undefined);
    if (!page.hasMore || page.messages.length === 0) return frame(room, pieces, false, 'resume', undefined);
    if (pieces.length >= LIMITS.resumeMaxMessages) return frame(room, pieces, true, 'resume', undefined);
    cursor = pieces.at(-1)!.seq;
  }
}
