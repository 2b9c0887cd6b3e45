import { LIMITS } from '@chatter/protocol';
import type Database from 'better-sqlite3';
import type { HistoryPage, HistoryRange, MessageRecord, MessageWithAuthor, ReactionSummary } from '../types.js';
import { toMessage, toMessageWithAuthor, type Row } from './rows.js';

const WITH_AUTHOR = `SELECT m.*, u.username AS author_username, u.avatar_key AS author_avatar_key
  FROM messages m JOIN users u ON u.id = m.author_id`;

/**
 * Reads messages with what a client shows with them. A page costs a fixed number of queries
 * whatever its length: the rows, then the mentions and the reactions of all of them at once
 * (ids passed as one JSON array), never a query per message.
 */
export class MessageReads {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      // Newest page below a cursor, read backwards along the (room_id, seq) index.
      before: db.prepare(`${WITH_AUTHOR} WHERE m.room_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`),
      after: db.prepare(`${WITH_AUTHOR} WHERE m.room_id = ? AND m.seq > ? AND m.seq < ? ORDER BY m.seq ASC LIMIT ?`),
      one: db.prepare(`${WITH_AUTHOR} WHERE m.id = ? AND m.room_id = ?`),
      byIds: db.prepare(`${WITH_AUTHOR} WHERE m.id IN (SELECT value FROM json_each(?))`),
      record: db.prepare('SELECT * FROM messages WHERE id = ?'),
      lastSeq: db.prepare('SELECT last_seq FROM rooms WHERE id = ?').pluck(),
      mentions: db.prepare('SELECT message_id, user_id FROM mentions WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY message_id, user_id'),
      mentionsOf: db.prepare('SELECT user_id FROM mentions WHERE message_id = ? ORDER BY user_id').pluck(),
      // Per (message, emoji): the first `reactionUsersListed` reactors in order, and the exact count.
      reactions: db.prepare(
        `SELECT message_id, emoji, user_id, cnt FROM (
           SELECT message_id, emoji, user_id,
             row_number() OVER (PARTITION BY message_id, emoji ORDER BY id) AS n,
             count(*) OVER (PARTITION BY message_id, emoji) AS cnt,
             min(id) OVER (PARTITION BY message_id, emoji) AS first
           FROM reactions WHERE message_id IN (SELECT value FROM json_each(?)))
         WHERE n <= ? ORDER BY message_id, first, n`,
      ),
    };
  }

  /** Call inside a transaction: the page and `lastSeq` must come from the same snapshot. */
  page(roomId: string, range: HistoryRange): HistoryPage {
    const limit = range.limit;
    const lastSeq = (this.stmts.lastSeq.get(roomId) as number | undefined) ?? 0;
    // One extra row says whether more exist, without a COUNT.
    let rows: Row[];
    let hasMore: boolean;
    if (range.after !== undefined) {
      rows = this.stmts.after.all(roomId, range.after, range.before ?? Number.MAX_SAFE_INTEGER, limit + 1) as Row[];
      hasMore = rows.length > limit;
      rows = rows.slice(0, limit);
    } else {
      rows = this.stmts.before.all(roomId, range.before ?? Number.MAX_SAFE_INTEGER, limit + 1) as Row[];
      hasMore = rows.length > limit;
      rows = rows.slice(0, limit).reverse();
    }
    return { messages: this.complete(rows, true), hasMore, lastSeq };
  }

  one(roomId: string, messageId: number): MessageWithAuthor | null {
    const row = this.stmts.one.get(messageId, roomId) as Row | undefined;
    return row ? this.complete([row], true)[0]! : null;
  }

  /** By id, without reactions (what an event reference carries). */
  byIds(ids: number[]): Map<number, MessageWithAuthor> {
    const rows = ids.length ? (this.stmts.byIds.all(JSON.stringify(ids)) as Row[]) : [];
    return new Map(this.complete(rows, false).map((m) => [m.id, m]));
  }

  record(messageId: number): MessageRecord | null {
    const row = this.stmts.record.get(messageId) as Row | undefined;
    return row ? toMessage(row, this.stmts.mentionsOf.all(messageId) as number[]) : null;
  }

  private complete(rows: Row[], withReactions: boolean): MessageWithAuthor[] {
    if (rows.length === 0) return [];
    const ids = JSON.stringify(rows.map((r) => r.id as number));
    const mentions = new Map<number, number[]>();
    for (const r of this.stmts.mentions.all(ids) as Row[]) {
      const list = mentions.get(r.message_id as number);
      if (list) list.push(r.user_id as number);
      else mentions.set(r.message_id as number, [r.user_id as number]);
    }
    const messages = rows.map((r) => toMessageWithAuthor(r, mentions.get(r.id as number) ?? []));
    if (withReactions) {
      const byMessage = new Map(messages.map((m) => [m.id, m]));
      let current: ReactionSummary | null = null;
      for (const r of this.stmts.reactions.all(ids, LIMITS.reactionUsersListed) as Row[]) {
        const message = byMessage.get(r.message_id as number)!;
        const emoji = r.emoji as string;
        if (current === null || message.reactions.at(-1) !== current || current.emoji !== emoji) {
          current = { emoji, count: r.cnt as number, users: [] };
          message.reactions.push(current);
        }
        current.users.push(r.user_id as number);
      }
    }
    return messages;
  }
}
