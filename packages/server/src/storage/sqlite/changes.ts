import { LIMITS } from '@chatter/protocol';
import type Database from 'better-sqlite3';
import type { ChangeError, ChangeResult, CreateRoomResult, EventKind, EventRecord, NewRoom, RoomChange, RoomRecord } from '../types.js';
import type { MessageReads } from './messages.js';
import { toEvent, toRoom, type Row } from './rows.js';

type Failure = { ok: false; error: ChangeError };
const fail = (error: ChangeError): Failure => ({ ok: false, error });

/** What an event row is written from; `seq` is given by `append`. */
interface NewEvent {
  kind: EventKind;
  actorId: number | null;
  clientId: string | null;
  at: number;
  messageId?: number | null;
  userId?: number | null;
  data?: Record<string, unknown>;
}

/**
 * The write side of the room log: every change bumps its room's `last_seq`, writes its event and
 * updates the state tables, inside the caller's transaction. The checks here are the ones only
 * the transaction can make atomically (membership, the message's state, limits, idempotency);
 * who may do what is decided before, by the conversations layer.
 */
export class ChangeWriter {
  private readonly s;
  /** Set when a change of the current batch erased text; the store then checkpoints (see SqliteStore). */
  erased = false;

  constructor(
    db: Database.Database,
    private readonly reads: MessageReads,
  ) {
    this.s = {
      eventByKey: db.prepare('SELECT * FROM events WHERE actor_id = ? AND client_id = ?'),
      events: db.prepare('SELECT * FROM events WHERE room_id = ? AND seq BETWEEN ? AND ? ORDER BY seq'),
      room: db.prepare('SELECT * FROM rooms WHERE id = ?'),
      /** What a change checks of its room: read for every change, so no more than that. */
      roomState: db.prepare('SELECT archived, name, topic FROM rooms WHERE id = ?'),
      roomByDmKey: db.prepare('SELECT * FROM rooms WHERE dm_key = ?'),
      userExists: db.prepare('SELECT 1 FROM users WHERE id = ?').pluck(),
      member: db.prepare('SELECT role FROM members WHERE room_id = ? AND user_id = ?').pluck(),
      userRoomCount: db.prepare('SELECT count(*) FROM members WHERE user_id = ?').pluck(),
      message: db.prepare('SELECT room_id, seq, text, deleted_at FROM messages WHERE id = ?'),
      bumpSeq: db.prepare('UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq').pluck(),
      // A message's seq and the room's activity in one write of the room's row.
      bumpSeqActive: db.prepare('UPDATE rooms SET last_seq = last_seq + 1, last_activity_at = max(last_activity_at, ?) WHERE id = ? RETURNING last_seq').pluck(),
      insertEvent: db.prepare(
        `INSERT INTO events (room_id, seq, kind, actor_id, client_id, created_at, message_id, user_id, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertMessage: db.prepare(
        `INSERT INTO messages (room_id, seq, author_id, client_id, text, created_at, version)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      ).pluck(),
      insertMention: db.prepare('INSERT OR IGNORE INTO mentions (room_id, user_id, seq, message_id) VALUES (?, ?, ?, ?)'),
      mentionsOf: db.prepare('SELECT user_id FROM mentions WHERE message_id = ? ORDER BY user_id').pluck(),
      deleteMentions: db.prepare('DELETE FROM mentions WHERE message_id = ?'),
      editMessage: db.prepare('UPDATE messages SET text = ?, edited_at = ?, version = ? WHERE id = ?'),
      deleteMessage: db.prepare("UPDATE messages SET text = '', deleted_at = ?, version = ? WHERE id = ?"),
      touchMessage: db.prepare('UPDATE messages SET version = ? WHERE id = ?'),
      deleteReactions: db.prepare('DELETE FROM reactions WHERE message_id = ?'),
      hasReaction: db.prepare('SELECT 1 FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?').pluck(),
      emojiRun: db.prepare('SELECT run FROM reactions WHERE message_id = ? AND emoji = ? LIMIT 1').pluck(),
      emojiKinds: db.prepare('SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = ?').pluck(),
      emojiCount: db.prepare('SELECT count(*) FROM reactions WHERE message_id = ? AND emoji = ?').pluck(),
      // A new emoji's run sorts after every run on the message: no live run began after the newest row.
      insertReaction: db.prepare(
        `INSERT INTO reactions (message_id, emoji, user_id, created_at, run)
         VALUES (?, ?, ?, ?, coalesce(?, (SELECT coalesce(max(id), 0) + 1 FROM reactions)))`,
      ),
      deleteReaction: db.prepare('DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?'),
      insertMember: db.prepare('INSERT INTO members (room_id, user_id, role, joined_at, read_seq) VALUES (?, ?, ?, ?, ?)'),
      deleteMember: db.prepare('DELETE FROM members WHERE room_id = ? AND user_id = ?'),
      setRole: db.prepare('UPDATE members SET role = ? WHERE room_id = ? AND user_id = ?'),
      addMembers: db.prepare('UPDATE rooms SET member_count = member_count + ? WHERE id = ?'),
      rename: db.prepare('UPDATE rooms SET name = ? WHERE id = ?'),
      setTopic: db.prepare('UPDATE rooms SET topic = ? WHERE id = ?'),
      archive: db.prepare('UPDATE rooms SET archived = ? WHERE id = ?'),
      insertRoom: db.prepare(
        `INSERT INTO rooms (id, kind, name, topic, visibility, archived, last_seq, created_at, created_by, dm_key, member_count, last_activity_at)
         VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?, 0, ?)`,
      ),
    };
  }

  /** One change, inside the batch's transaction. */
  apply(c: RoomChange): ChangeResult {
    if (c.clientId !== null) {
      const row = this.s.eventByKey.get(c.actorId, c.clientId) as Row | undefined;
      if (row) {
        const first = toEvent(row);
        if (!sameRequest(first, c)) return fail('idempotency_conflict');
        return { ok: true, event: first, duplicate: true, ...this.messageOf(first.messageId) };
      }
    }
    const row = this.s.roomState.get(c.roomId) as Row | undefined;
    if (!row) return fail('room_not_found');
    const room = { archived: row.archived === 1, name: row.name as string, topic: row.topic as string };
    if (room.archived && c.kind !== 'room_archived') return fail('room_archived');

    switch (c.kind) {
      case 'message_created': {
        if (!this.isMember(c.roomId, c.actorId)) return fail('not_a_member');
        const seq = this.s.bumpSeqActive.get(c.at, c.roomId) as number;
        // A change without a key still needs a unique (author, client_id) row: `~` never occurs in a
        // client's ids (LIMITS.clientIdPattern), and (room, seq) is unique.
        const clientId = c.clientId ?? `~${c.roomId}/${seq}`;
        const id = this.s.insertMessage.get(c.roomId, seq, c.actorId, clientId, c.text, c.at, seq) as number;
        this.insertMentions(c.roomId, seq, id, c.mentions);
        const event = this.append(c.roomId, seq, { ...c, messageId: id });
        // The row just written, as `messageOf` would read it back (mentions: each once, ascending,
        // as the mentions table's key keeps them): the most frequent change skips two reads.
        const mentions = [...new Set(c.mentions)].sort((a, b) => a - b);
        const message = { id, roomId: c.roomId, seq, authorId: c.actorId, clientId, text: c.text, createdAt: c.at, version: seq, editedAt: null, deletedAt: null, mentions };
        return { ok: true, event, duplicate: false, message };
      }
      case 'message_edited': {
        const checked = this.liveMessage(c.roomId, c.actorId, c.messageId);
        if ('error' in checked) return checked;
        const before = this.s.mentionsOf.all(c.messageId) as number[];
        if (checked.text === c.text && sameIds(before, c.mentions)) return this.noop(c.messageId);
        const seq = this.nextSeq(c.roomId);
        this.s.editMessage.run(c.text, c.at, seq, c.messageId);
        this.s.deleteMentions.run(c.messageId);
        this.insertMentions(c.roomId, checked.seq, c.messageId, c.mentions);
        return this.done(this.append(c.roomId, seq, c), c.messageId);
      }
      case 'message_deleted': {
        const checked = this.liveMessage(c.roomId, c.actorId, c.messageId);
        if ('error' in checked) return checked;
        const seq = this.nextSeq(c.roomId);
        // The tombstone keeps author, seq and time; the text, who it mentioned and the reactions go.
        this.s.deleteMessage.run(c.at, seq, c.messageId);
        this.s.deleteMentions.run(c.messageId);
        this.s.deleteReactions.run(c.messageId);
        this.erased = true;
        return this.done(this.append(c.roomId, seq, c), c.messageId);
      }
      case 'reaction_added':
      case 'reaction_removed': {
        const checked = this.liveMessage(c.roomId, c.actorId, c.messageId);
        if ('error' in checked) return checked;
        const present = this.s.hasReaction.get(c.messageId, c.emoji, c.actorId) !== undefined;
        if (present === (c.kind === 'reaction_added')) return this.noop(c.messageId);
        if (c.kind === 'reaction_added') {
          const run = (this.s.emojiRun.get(c.messageId, c.emoji) as number | undefined) ?? null;
          if (run === null && (this.s.emojiKinds.get(c.messageId) as number) >= LIMITS.reactionsPerMessageMax) return fail('too_many_reactions');
          this.s.insertReaction.run(c.messageId, c.emoji, c.actorId, c.at, run);
        } else {
          this.s.deleteReaction.run(c.messageId, c.emoji, c.actorId);
        }
        const seq = this.nextSeq(c.roomId);
        this.s.touchMessage.run(seq, c.messageId);
        const count = this.s.emojiCount.get(c.messageId, c.emoji) as number;
        return this.done(this.append(c.roomId, seq, { ...c, data: { emoji: c.emoji, count } }), c.messageId);
      }
      case 'member_joined':
      case 'member_invited': {
        if (this.isMember(c.roomId, c.userId)) return this.noop(null);
        if (this.s.userExists.get(c.userId) === undefined) return fail('user_not_found');
        if ((this.s.userRoomCount.get(c.userId) as number) >= LIMITS.roomsPerUserMax) return fail('too_many_rooms');
        const seq = this.nextSeq(c.roomId);
        // A newcomer's unread starts after their arrival: the history before it is not news to them.
        this.s.insertMember.run(c.roomId, c.userId, c.role, c.at, seq);
        this.s.addMembers.run(1, c.roomId);
        return this.done(this.append(c.roomId, seq, { ...c, data: { role: c.role } }), null);
      }
      case 'member_left':
      case 'member_removed': {
        if (!this.isMember(c.roomId, c.userId)) return this.noop(null);
        const seq = this.nextSeq(c.roomId);
        this.s.deleteMember.run(c.roomId, c.userId);
        this.s.addMembers.run(-1, c.roomId);
        return this.done(this.append(c.roomId, seq, c), null);
      }
      case 'member_role_changed': {
        const role = this.s.member.get(c.roomId, c.userId) as string | undefined;
        if (role === undefined) return fail('not_a_member');
        if (role === c.role) return this.noop(null);
        const seq = this.nextSeq(c.roomId);
        this.s.setRole.run(c.role, c.roomId, c.userId);
        return this.done(this.append(c.roomId, seq, { ...c, data: { role: c.role } }), null);
      }
      case 'room_renamed': {
        if (room.name === c.name) return this.noop(null);
        const seq = this.nextSeq(c.roomId);
        this.s.rename.run(c.name, c.roomId);
        return this.done(this.append(c.roomId, seq, { ...c, data: { name: c.name } }), null);
      }
      case 'room_topic_changed': {
        if (room.topic === c.topic) return this.noop(null);
        const seq = this.nextSeq(c.roomId);
        this.s.setTopic.run(c.topic, c.roomId);
        return this.done(this.append(c.roomId, seq, { ...c, data: { topic: c.topic } }), null);
      }
      case 'room_archived': {
        if (room.archived === c.archived) return this.noop(null);
        const seq = this.nextSeq(c.roomId);
        this.s.archive.run(c.archived ? 1 : 0, c.roomId);
        return this.done(this.append(c.roomId, seq, { ...c, data: { archived: c.archived } }), null);
      }
    }
  }

  /** Inside the caller's transaction. */
  createRoom(r: NewRoom): CreateRoomResult {
    if (r.clientId !== null) {
      const row = this.s.eventByKey.get(r.createdBy, r.clientId) as Row | undefined;
      if (row) {
        const first = toEvent(row);
        if (first.kind !== 'room_created' || first.roomId !== r.id) return { ok: false, error: 'idempotency_conflict' };
        return { ok: true, room: this.room(r.id), duplicate: true, events: this.creationEvents(first) };
      }
    }
    if (r.dmKey !== null) {
      // Two people opening the same DM at once: the second finds the first's.
      const existing = this.s.roomByDmKey.get(r.dmKey) as Row | undefined;
      if (existing) return { ok: true, room: toRoom(existing), duplicate: true, events: [] };
    }
    for (const m of r.members) {
      if ((this.s.userRoomCount.get(m.userId) as number) >= LIMITS.roomsPerUserMax) return { ok: false, error: 'too_many_rooms' };
    }
    this.s.insertRoom.run(r.id, r.kind, r.name, r.topic, r.visibility, r.at, r.createdBy, r.dmKey, r.at);
    const events = [
      this.append(r.id, this.nextSeq(r.id), {
        kind: 'room_created',
        actorId: r.createdBy,
        clientId: r.clientId,
        at: r.at,
        data: { kind: r.kind, name: r.name, topic: r.topic, visibility: r.visibility },
      }),
    ];
    for (const m of r.members) {
      const kind = m.userId === r.createdBy ? 'member_joined' : 'member_invited';
      events.push(this.append(r.id, this.nextSeq(r.id), { kind, actorId: r.createdBy, clientId: null, at: r.at, userId: m.userId, data: { role: m.role } }));
    }
    // Everyone starts with nothing unread.
    const lastSeq = events.at(-1)!.seq;
    for (const m of r.members) this.s.insertMember.run(r.id, m.userId, m.role, r.at, lastSeq);
    this.s.addMembers.run(r.members.length, r.id);
    return { ok: true, room: this.room(r.id), duplicate: false, events };
  }

  /** The events a creation wrote: room_created and the member events right after it. */
  private creationEvents(first: EventRecord): EventRecord[] {
    const rows = this.s.events.all(first.roomId, first.seq, first.seq + LIMITS.dmMaxUsers) as Row[];
    const events: EventRecord[] = [];
    for (const e of rows.map(toEvent)) {
      if (e.seq !== first.seq && !(isMemberAdded(e.kind) && e.actorId === first.actorId && e.createdAt === first.createdAt)) break;
      events.push(e);
    }
    return events;
  }

  private room(id: string): RoomRecord {
    return toRoom(this.s.room.get(id) as Row);
  }

  private isMember(roomId: string, userId: number): boolean {
    return this.s.member.get(roomId, userId) !== undefined;
  }

  /** The message of a change on one: it must be in this room and not deleted, and the actor still a member. */
  private liveMessage(roomId: string, actorId: number, messageId: number): { seq: number; text: string } | Failure {
    if (!this.isMember(roomId, actorId)) return fail('not_a_member');
    const row = this.s.message.get(messageId) as Row | undefined;
    if (!row || row.room_id !== roomId) return fail('message_not_found');
    if (row.deleted_at !== null) return fail('message_deleted');
    return { seq: row.seq as number, text: row.text as string };
  }

  private insertMentions(roomId: string, seq: number, messageId: number, userIds: number[]): void {
    for (const userId of userIds) this.s.insertMention.run(roomId, userId, seq, messageId);
  }

  private nextSeq(roomId: string): number {
    return this.s.bumpSeq.get(roomId) as number;
  }

  private append(roomId: string, seq: number, e: NewEvent): EventRecord {
    const event: EventRecord = {
      roomId,
      seq,
      kind: e.kind,
      actorId: e.actorId,
      clientId: e.clientId,
      createdAt: e.at,
      messageId: e.messageId ?? null,
      userId: e.userId ?? null,
      data: e.data ?? {},
    };
    this.s.insertEvent.run(roomId, seq, e.kind, e.actorId, e.clientId, e.at, event.messageId, event.userId, JSON.stringify(event.data));
    return event;
  }

  private done(event: EventRecord, messageId: number | null): ChangeResult {
    return { ok: true, event, duplicate: false, ...this.messageOf(messageId) };
  }

  private noop(messageId: number | null): ChangeResult {
    return { ok: true, event: null, duplicate: false, ...this.messageOf(messageId) };
  }

  private messageOf(messageId: number | null): { message?: NonNullable<ReturnType<MessageReads['record']>> } {
    const message = messageId === null ? null : this.reads.record(messageId);
    return message ? { message } : {};
  }
}

function isMemberAdded(kind: EventKind): boolean {
  return kind === 'member_joined' || kind === 'member_invited';
}

/** Whether a stored event is what this change would have produced: same kind, room and subject. */
function sameRequest(e: EventRecord, c: RoomChange): boolean {
  if (e.kind !== c.kind || e.roomId !== c.roomId) return false;
  if ('messageId' in c && e.messageId !== c.messageId) return false;
  if ('userId' in c && e.userId !== c.userId) return false;
  if ('emoji' in c && e.data.emoji !== c.emoji) return false;
  return true;
}

function sameIds(sortedStored: number[], given: number[]): boolean {
  const a = [...new Set(given)].sort((x, y) => x - y);
  return a.length === sortedStored.length && a.every((v, i) => v === sortedStored[i]);
}
