import type { EventsFrame, HistoryFrame } from '@chatter/protocol';
import { presentReplayed, presentStored } from '../conversations/present.js';
import type { ChatStore, MessageWithAuthor } from '../storage/types.js';
import type { EventFrames } from './event-frames.js';

/**
 * Replies that read the log, bounded in bytes as well as in items. A page of 100 messages can be
 * 100 times a message's worst case (4,000 code points that each escape to several bytes of JSON),
 * and a resume of 1,000 events ten times that; built whole, a few such replies exhaust the heap. So
 * a reply is serialized item by item (once: the frame is assembled from the pieces) and stops at the
 * byte budget, saying `hasMore`, and a resume reads the log a page at a time.
 */

export interface Reply {
  /** The serialized frame. */
  json: string;
  count: number;
  /**
   * `history`: the room's lastSeq read with the page (the page reflects every event up to it).
   * `events`: the seq of the last event in the reply (`after` when empty).
   */
  lastSeq: number;
  hasMore: boolean;
}

interface Piece {
  json: string;
  seq: number;
}

/**
 * Serialize items (oldest first), keeping the `oldest` or `newest` ones that fit in `budget` bytes,
 * and at least one when `atLeastOne` (a reply must make progress, whatever one item weighs).
 */
export function fit<T extends { seq: number }>(
  rows: T[],
  present: (row: T) => unknown,
  budget: number,
  keep: 'oldest' | 'newest',
  atLeastOne = true,
): { pieces: Piece[]; bytes: number; cut: boolean } {
  const pieces: Piece[] = [];
  let bytes = 0;
  for (let k = 0; k < rows.length; k++) {
    const row = rows[keep === 'oldest' ? k : rows.length - 1 - k]!;
    const json = JSON.stringify(present(row));
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

export const optionalRef = (ref: string | undefined) => (ref !== undefined ? `,"ref":${JSON.stringify(ref)}` : '');

/** A page as a `history` request asks for it: with `after`, the oldest that fit; else the newest. */
export async function historyReply(
  store: ChatStore,
  room: string,
  range: { before?: number; after?: number; limit: number },
  maxBytes: number,
  reason: HistoryFrame['reason'],
  ref?: string,
): Promise<Reply> {
  const page = await store.getMessages(room, range);
  const forward = range.after !== undefined;
  const { pieces, bytes, cut } = fit<MessageWithAuthor>(page.messages, presentStored, maxBytes, forward ? 'oldest' : 'newest');
  const hasMore = page.hasMore || cut;
  // A page cut short covers the log only as far as the messages it carries; the next page covers the rest.
  let membership = page.membership;
  if (cut && pieces.length > 0) {
    const edge = forward ? pieces.at(-1)!.seq : pieces[0]!.seq;
    membership = membership.filter((e) => (forward ? e.seq < edge : e.seq > edge));
  }
  const notices = fit(membership, presentReplayed, maxBytes - bytes, 'newest', false).pieces;
  const head = `{"type":"history","room":${JSON.stringify(room)},"messages":[`;
  const tail = `],"hasMore":${hasMore},"lastSeq":${page.lastSeq},"membership":[${notices.map((p) => p.json).join(',')}],"reason":"${reason}"${optionalRef(ref)}}`;
  return { json: head + pieces.map((p) => p.json).join(',') + tail, count: pieces.length, lastSeq: page.lastSeq, hasMore };
}

/**
 * The reply for a log known to hold nothing after `after`: no read. A resume knows it when `after`
 * is the room's lastSeq as read for the connection's `hello` (the socket was subscribed before that
 * read, so every later event reaches it live).
 */
export function emptyEventsReply(room: string, after: number, reason: EventsFrame['reason'], ref?: string): Reply {
  const json = `{"type":"events","room":${JSON.stringify(room)},"after":${after},"through":${after},"events":[],"hasMore":false,"reason":"${reason}"${optionalRef(ref)}}`;
  return { json, count: 0, lastSeq: after, hasMore: false };
}

/**
 * The room's log after `after`, up to `limit` events and the byte budget, from the shared serialized
 * tail of the log (`EventFrames`) and the store for what is older. The caller has checked that the
 * reader may read the room's log. `known`: see `EventFrames.read`.
 */
export async function eventsReply(
  frames: EventFrames,
  room: string,
  after: number,
  limit: number,
  maxBytes: number,
  reason: EventsFrame['reason'],
  ref?: string,
  known?: number,
): Promise<Reply> {
  const { pieces, hasMore } = await frames.read(room, after, limit, maxBytes, known);
  const through = pieces.at(-1)?.seq ?? after;
  const head = `{"type":"events","room":${JSON.stringify(room)},"after":${after},"through":${through},"events":[`;
  const tail = `],"hasMore":${hasMore},"reason":"${reason}"${optionalRef(ref)}}`;
  return { json: head + pieces.map((p) => p.json).join(',') + tail, count: pieces.length, lastSeq: through, hasMore };
}
