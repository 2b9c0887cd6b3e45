import { readAround } from '../conversations/around.js';
import { presentReplayed, presentStored } from '../conversations/present.js';
import type { ChatStore, MessageWithAuthor } from '../storage/types.js';
import { fit, optionalRef, type Reply } from './replies.js';

/**
 * A `history` request with `around`: the page around a message, within the reply byte budget like
 * every page. Half the budget goes to the older side, which keeps the messages nearest the target
 * and always the target itself; the newer side keeps its oldest within what is left. A side cut
 * short says so (`hasMore`, `hasNewer`), and its membership lines stop where its messages do.
 */
export async function aroundReply(store: ChatStore, room: string, messageId: number, limit: number, maxBytes: number, ref?: string): Promise<Reply> {
  const { older, newer, lastSeq } = await readAround(store, room, messageId, limit);
  const before = fit<MessageWithAuthor>(older.messages, presentStored, Math.floor(maxBytes / 2), 'newest');
  const after = fit<MessageWithAuthor>(newer.messages, presentStored, maxBytes - before.bytes, 'oldest', false);
  const hasMore = older.hasMore || before.cut;
  const hasNewer = newer.hasMore || after.cut;
  const from = before.cut ? before.pieces[0]!.seq : -1;
  // Cut with nothing kept, the newer side covers nothing after the target.
  const through = after.cut ? (after.pieces.at(-1)?.seq ?? before.pieces.at(-1)!.seq) : Number.MAX_SAFE_INTEGER;
  const membership = [...older.membership, ...newer.membership].filter((e) => e.seq > from && e.seq < through);
  const notices = fit(membership, presentReplayed, maxBytes - before.bytes - after.bytes, 'newest', false).pieces;
  const pieces = [...before.pieces, ...after.pieces];
  const head = `{"type":"history","room":${JSON.stringify(room)},"messages":[`;
  const tail = `],"hasMore":${hasMore},"hasNewer":${hasNewer},"lastSeq":${lastSeq},"membership":[${notices.map((p) => p.json).join(',')}],"reason":"request"${optionalRef(ref)}}`;
  return { json: head + pieces.map((p) => p.json).join(',') + tail, count: pieces.length, lastSeq, hasMore };
}
