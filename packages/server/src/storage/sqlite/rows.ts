import type {
  EventKind,
  EventRecord,
  MemberRecord,
  MessageRecord,
  MessageWithAuthor,
  NotifyLevel,
  Role,
  RoomKind,
  RoomRecord,
  RoomVisibility,
  SessionRecord,
  UserRecord,
} from '../types.js';

/** A row as better-sqlite3 returns it. */
export type Row = Record<string, unknown>;

export function toUser(r: Row): UserRecord {
  return {
    id: r.id as number,
    username: r.username as string,
    email: (r.email as string | null) ?? null,
    passwordHash: r.password_hash as string,
    avatarKey: (r.avatar_key as string | null) ?? null,
    createdAt: r.created_at as number,
  };
}

export function toSession(r: Row): SessionRecord {
  return {
    id: r.id as number,
    userId: r.user_id as number,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
    lastSeenAt: (r.last_seen_at as number | null) ?? (r.created_at as number),
    device: r.device as string,
  };
}

export function toRoom(r: Row): RoomRecord {
  return {
    id: r.id as string,
    kind: r.kind as RoomKind,
    name: r.name as string,
    topic: r.topic as string,
    visibility: r.visibility as RoomVisibility,
    archived: r.archived === 1,
    lastSeq: r.last_seq as number,
    createdAt: r.created_at as number,
    createdBy: (r.created_by as number | null) ?? null,
    dmKey: (r.dm_key as string | null) ?? null,
    memberCount: r.member_count as number,
    lastActivityAt: r.last_activity_at as number,
  };
}

/** Member columns are selected with an `m_` prefix where they are joined with a room. */
export function toMember(r: Row, prefix = ''): MemberRecord {
  return {
    roomId: r[`${prefix}room_id`] as string,
    userId: r[`${prefix}user_id`] as number,
    role: r[`${prefix}role`] as Role,
    joinedAt: r[`${prefix}joined_at`] as number,
    readSeq: r[`${prefix}read_seq`] as number,
    notify: r[`${prefix}notify_level`] as NotifyLevel | null,
  };
}

export function toMessage(r: Row, mentions: number[]): MessageRecord {
  return {
    id: r.id as number,
    roomId: r.room_id as string,
    seq: r.seq as number,
    authorId: r.author_id as number,
    clientId: r.client_id as string,
    text: r.text as string,
    createdAt: r.created_at as number,
    version: r.version as number,
    editedAt: (r.edited_at as number | null) ?? null,
    deletedAt: (r.deleted_at as number | null) ?? null,
    mentions,
  };
}

/** Built whole, not spread from `toMessage`: a page makes fifty of these per request. */
export function toMessageWithAuthor(r: Row, mentions: number[]): MessageWithAuthor {
  return {
    id: r.id as number,
    roomId: r.room_id as string,
    seq: r.seq as number,
    authorId: r.author_id as number,
    clientId: r.client_id as string,
    text: r.text as string,
    createdAt: r.created_at as number,
    version: r.version as number,
    editedAt: (r.edited_at as number | null) ?? null,
    deletedAt: (r.deleted_at as number | null) ?? null,
    mentions,
    authorUsername: r.author_username as string,
    authorAvatarKey: (r.author_avatar_key as string | null) ?? null,
    reactions: [],
  };
}

export function toEvent(r: Row): EventRecord {
  return {
    roomId: r.room_id as string,
    seq: r.seq as number,
    kind: r.kind as EventKind,
    actorId: (r.actor_id as number | null) ?? null,
    clientId: (r.client_id as string | null) ?? null,
    createdAt: r.created_at as number,
    messageId: (r.message_id as number | null) ?? null,
    userId: (r.user_id as number | null) ?? null,
    data: JSON.parse(r.data as string) as Record<string, unknown>,
  };
}
