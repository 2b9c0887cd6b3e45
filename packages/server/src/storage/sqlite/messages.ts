import { LIMITS } from '@chatter/protocol';
import type Database from 'better-sqlite3';
import type { EventWithRefs, HistoryPage, HistoryRange, MessageRecord, MessageWithAuthor, ReactionSummary } from '../types.js';
import { toEvent, toMessage, toMessageWithAuthor, type Row } from './rows.js';

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
      // Along the partial index events_membership (named: unanalysed, SQLite takes the primary key and
      // steps over every message and reaction event of the span), newest first; the kind list must be the index's.
      // The members a room was created with (its creator's events at its creation time) are part of
      // the creation, which no one sees as a line: they are not joins.
      membership: db.prepare(
        `SELECT e.*, u.username AS user_username, u.avatar_key AS user_avatar_key
         FROM events e INDEXED BY events_membership
           JOIN rooms r ON r.id = e.room_id
           LEFT JOIN users u ON u.id = e.user_id
         WHERE e.room_id = ? AND e.seq BETWEEN ? AND ?
           AND e.kind IN ('member_joined', 'member_invited', 'member_left', 'member_removed')
           AND NOT (e.created_at = r.created_at AND e.actor_id IS r.created_by)
         ORDER BY e.seq DESC LIMIT ?`,
      ),
      one: db.prepare(`${WITH_AUTHOR} WHERE m.id = ? AND m.room_id = ?`),
      byIds: db.prepare(`${WITH_AUTHOR} WHERE m.id IN (SELECT value FROM json_each(?))`),
      record: db.prepare('SELECT * FROM messages WHERE id = ?'),
      lastSeq: db.prepare('SELECT last_seq FROM rooms WHERE id = ?').pluck(),
      mentions: db.prepare('SELECT message_id, user_id FROM mentions WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY message_id, user_id'),
      mentionsOf: db.prepare('SELECT user_id FROM mentions WHERE message_id = ? ORDER BY user_id').pluck(),
      // Per (message, emoji): the first `reactionUsersListed` reactors in order, and the exact count;
      // emojis in the order their runs began (see the migration that added `run`).
      reactions: db.prepare(
        `SELECT message_id, emoji, user_id, cnt FROM (
           SELECT message_id, emoji, user_id,
             row_number() OVER (PARTITION BY message_id, emoji ORDER BY id) AS n,
             count(*) OVER (PARTITION BY message_id, emoji) AS cnt, run
           FROM reactions WHERE message_id IN (SELECT value FROM json_each(?)))
         WHERE n <= ? ORDER BY message_id, run, n`,
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
    const { from, through } = span(range, rows, hasMore, lastSeq);
    const membership = (this.stmts.membership.all(roomId, from, through, limit) as Row[]).reverse().map(
      (r): EventWithRefs => ({
        ...toEvent(r),
        message: null,
        user: r.user_username === null ? null : { id: r.user_id as number, username: r.user_username as string, avatarKey: (r.user_avatar_key as string | null) ?? null },
      }),
    );
    return { messages: this.complete(rows, true), hasMore, lastSeq, membership };
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

/**
 * The seqs a page of messages covers, bounds included: from its oldest message (from the room's
 * start when nothing older exists) up to the cursor or the room's end; for an `after` page, from the
 * cursor up to its newest message (to the end when nothing newer exists). The pages a client walks
 * through cover every seq once, so a membership event shows once, in its place among the messages.
 */
function span(range: HistoryRange, rows: readonly Row[], hasMore: boolean, lastSeq: number): { from: number; through: number } {
  const end = Math.min(lastSeq, (range.before ?? Number.MAX_SAFE_INTEGER) - 1);
  if (range.after !== undefined) return { from: range.after + 1, through: hasMore ? (rows.at(-1)!.seq as number) : end };
  return { from: hasMore ? (rows[0]!.seq as number) : 0, through: end };
}
