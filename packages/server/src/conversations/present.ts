import { DEFAULT_NOTIFY, type Member, type Message, type MessageBody, type MyRoom, type PublicUser, type Room, type RoomEvent } from '@chatter/protocol';
import type { EventRecord, EventWithRefs, MemberRecord, MessageRecord, MessageWithAuthor, RoomRecord, UserRecord, UserRoom } from '../storage/types.js';
import { avatarUrl, publicUser } from '../users/present.js';

/*
 * Storage records as the wire shows them. One function per shape, so a live event and its replay
 * are built by the same code.
 */

const iso = (ms: number) => new Date(ms).toISOString();

export function presentStored(m: MessageWithAuthor): Message {
  return presentMessage(m, { id: m.authorId, username: m.authorUsername, avatarUrl: avatarUrl(m.authorAvatarKey) }, m.reactions);
}

export function presentMessage(m: MessageRecord, author: PublicUser, reactions: MessageWithAuthor['reactions'] = []): Message {
  return {
    id: m.id,
    room: m.roomId,
    seq: m.seq,
    author,
    text: m.text,
    clientId: m.clientId,
    createdAt: iso(m.createdAt),
    version: m.version,
    editedAt: m.editedAt === null ? null : iso(m.editedAt),
    deleted: m.deletedAt !== null,
    mentions: m.deletedAt !== null ? [] : m.mentions,
    reactions: m.deletedAt !== null ? [] : reactions,
  };
}

export function presentBody(m: MessageRecord): MessageBody {
  const deleted = m.deletedAt !== null;
  return {
    id: m.id,
    seq: m.seq,
    authorId: m.authorId,
    text: deleted ? '' : m.text,
    editedAt: m.editedAt === null ? null : iso(m.editedAt),
    deleted,
    mentions: deleted ? [] : m.mentions,
  };
}

/** What an event needs besides its record: the message (with its author) or the member it is about. */
export interface EventRefs {
  message: MessageRecord | null;
  author: PublicUser | null;
  user: PublicUser | null;
}

/** A replayed event, with the references the store read alongside it. */
export function presentReplayed(e: EventWithRefs): RoomEvent {
  const m = e.message;
  return presentEvent(e, {
    message: m,
    author: m ? { id: m.authorId, username: m.authorUsername, avatarUrl: avatarUrl(m.authorAvatarKey) } : null,
    user: e.user ? publicUser(e.user) : null,
  });
}

const unknownUser = (id: number | null): PublicUser => ({ id: id ?? 0, username: '', avatarUrl: null });

export function presentEvent(e: EventRecord, refs: EventRefs): RoomEvent {
  const base = { room: e.roomId, seq: e.seq, at: iso(e.createdAt), actorId: e.actorId };
  const d = e.data;
  const user = refs.user ?? unknownUser(e.userId);
  switch (e.kind) {
    case 'message_created':
      // A replay carries the body as it is now but no reactions: the reaction events after it add
      // them (events.ts). So its version is the event's own seq, never a later one: a client that
      // took the message's current version would skip those reaction events as already applied.
      return { kind: e.kind, ...base, message: { ...presentMessage(refs.message!, refs.author ?? unknownUser(refs.message!.authorId)), version: e.seq } };
    case 'message_edited':
    case 'message_deleted':
      return { kind: e.kind, ...base, message: presentBody(refs.message!) };
    case 'reaction_added':
    case 'reaction_removed':
      return {
        kind: e.kind,
        ...base,
        messageId: e.messageId!,
        messageSeq: refs.message?.seq ?? 0,
        emoji: String(d.emoji),
        userId: e.userId ?? e.actorId ?? 0,
        count: Number(d.count ?? 0),
      };
    case 'member_joined':
    case 'member_invited':
    case 'member_role_changed':
      return { kind: e.kind, ...base, user, role: (d.role as MemberRecord['role']) ?? 'member' };
    case 'member_left':
    case 'member_removed':
      return { kind: e.kind, ...base, user };
    case 'room_created':
      return {
        kind: e.kind,
        ...base,
        info: { kind: d.kind as RoomRecord['kind'], name: String(d.name ?? ''), topic: String(d.topic ?? ''), visibility: d.visibility as RoomRecord['visibility'] },
      };
    case 'room_renamed':
      return { kind: e.kind, ...base, name: String(d.name ?? '') };
    case 'room_topic_changed':
      return { kind: e.kind, ...base, topic: String(d.topic ?? '') };
    case 'room_archived':
      return { kind: e.kind, ...base, archived: Boolean(d.archived) };
  }
}

export function presentRoom(r: RoomRecord, dmMembers: PublicUser[] = []): Room {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    topic: r.topic,
    visibility: r.visibility,
    archived: r.archived,
    createdAt: iso(r.createdAt),
    lastSeq: r.lastSeq,
    memberCount: r.memberCount,
    members: r.kind === 'dm' ? dmMembers : [],
  };
}

/** `presentRoom` and the user's own fields, built as one object (every `hello` builds one per room). */
export function presentMyRoom(u: UserRoom, dmMembers: PublicUser[] = []): MyRoom {
  const r = u.room;
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    topic: r.topic,
    visibility: r.visibility,
    archived: r.archived,
    createdAt: iso(r.createdAt),
    lastSeq: r.lastSeq,
    memberCount: r.memberCount,
    members: r.kind === 'dm' ? dmMembers : [],
    role: u.member.role,
    readSeq: u.member.readSeq,
    unread: u.unread,
    mentions: u.mentions,
    notify: u.member.notify ?? DEFAULT_NOTIFY[r.kind],
    lastActivityAt: iso(Math.max(r.lastActivityAt, u.member.joinedAt)),
  };
}

export function presentMember(m: { member: MemberRecord; user: UserRecord }): Member {
  return { user: publicUser(m.user), role: m.member.role, joinedAt: iso(m.member.joinedAt) };
}
