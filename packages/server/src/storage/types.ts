/**
 * The storage seam. Everything Chatter persists goes through this interface, so the embedded
 * SQLite store and a future PostgreSQL store are interchangeable; `test/storage.contract.ts`
 * runs the same suite against every implementation. All methods are async even where SQLite is
 * synchronous, and nothing here assumes a single process or a single writer.
 */

export interface UserRecord {
  id: number;
  username: string;
  email: string | null;
  passwordHash: string;
  /** Opaque key of the current profile picture (changes whenever the picture changes), or null. */
  avatarKey: string | null;
  createdAt: number; // epoch ms
}

export interface SessionRecord {
  id: number;
  userId: number;
  createdAt: number;
  expiresAt: number;
  /** Last use, written at most as often as the sliding expiry (hourly). */
  lastSeenAt: number;
  /** A short summary of the client that signed in ("Chrome on Linux"), or '' when unknown. */
  device: string;
}

/** A browser that signed in to an account successfully, known by the hash of its device cookie. */
export interface LoginDeviceRecord {
  userId: number;
  createdAt: number;
  expiresAt: number;
}

export type RoomKind = 'channel' | 'dm';
export type RoomVisibility = 'public' | 'private';
export type Role = 'owner' | 'admin' | 'member';
export type NotifyLevel = 'all' | 'mentions' | 'none';

export interface RoomRecord {
  /** Opaque and permanent; `general` for the default room, random for the others. */
  id: string;
  kind: RoomKind;
  /** '' for DMs (clients name them after their members). */
  name: string;
  topic: string;
  visibility: RoomVisibility;
  archived: boolean;
  /** The seq of the newest event in the room's log. */
  lastSeq: number;
  createdAt: number;
  createdBy: number | null;
  /** For DMs, the sorted member ids joined with ',': opening a DM with the same people finds it. */
  dmKey: string | null;
  memberCount: number;
  /** The newest message's time, or the room's creation time: the room list sorts on it. */
  lastActivityAt: number;
}

export interface MemberRecord {
  roomId: string;
  userId: number;
  role: Role;
  joinedAt: number;
  /** Messages with seq > readSeq are unread (unless the user's own or deleted). */
  readSeq: number;
  /** The level the user chose, or null if they chose none (then the room kind's `DEFAULT_NOTIFY` applies). */
  notify: NotifyLevel | null;
}

/** A room the user is in, with their membership and counts (see `listUserRooms`). */
export interface UserRoom {
  room: RoomRecord;
  member: MemberRecord;
  /** Unread messages after `member.readSeq`, at most `countCap`. */
  unread: number;
  /** Of those, the ones that mention the user, at most `countCap`. */
  mentions: number;
}

export interface MessageRecord {
  id: number;
  roomId: string;
  /** The seq of its `message_created` event. */
  seq: number;
  authorId: number;
  clientId: string;
  /** '' once deleted. */
  text: string;
  createdAt: number;
  /** The seq of the last event that changed it. */
  version: number;
  editedAt: number | null;
  deletedAt: number | null;
  /** User ids its text mentions, each once, ascending. */
  mentions: number[];
}

export interface ReactionSummary {
  emoji: string;
  count: number;
  /** The first `reactionUsersListed` reactors, in the order they reacted. */
  users: number[];
}

/** A stored message joined with the author fields a client needs, and its reactions. */
export interface MessageWithAuthor extends MessageRecord {
  authorUsername: string;
  authorAvatarKey: string | null;
  /** In the order each emoji was first used. */
  reactions: ReactionSummary[];
}

export type EventKind =
  | 'message_created'
  | 'message_edited'
  | 'message_deleted'
  | 'reaction_added'
  | 'reaction_removed'
  | 'member_joined'
  | 'member_invited'
  | 'member_left'
  | 'member_removed'
  | 'member_role_changed'
  | 'room_created'
  | 'room_renamed'
  | 'room_topic_changed'
  | 'room_archived';

/**
 * One entry of a room's log. It holds references and small facts only (an emoji, a new name, a
 * role), never message text: the text lives in `messages`, once, so deleting it deletes it.
 */
export interface EventRecord {
  roomId: string;
  seq: number;
  kind: EventKind;
  actorId: number | null;
  /** The actor's idempotency key for the request that produced it, if it came with one. */
  clientId: string | null;
  createdAt: number;
  messageId: number | null;
  /** The member a membership event is about. */
  userId: number | null;
  /**
   * Kind-specific facts: `{emoji, count}` for reactions (count after the event), `{role}` for
   * member_joined/invited/role_changed, `{name}`, `{topic}`, `{archived}`, and for room_created
   * `{kind, name, topic, visibility}`.
   */
  data: Record<string, unknown>;
}

/** An event with what a client needs to show it, read at replay time (so current, not historical). */
export interface EventWithRefs extends EventRecord {
  /** For message and reaction events: the message as it is now, reactions not loaded (empty). */
  message: MessageWithAuthor | null;
  /** For membership events: the member's current public fields. */
  user: { id: number; username: string; avatarKey: string | null } | null;
}

interface ChangeBase {
  roomId: string;
  actorId: number;
  /**
   * The actor's idempotency key; a change whose (actorId, clientId) was already stored is not
   * applied again. A `message_created` without one still gets a unique `MessageRecord.clientId`
   * (`~room/seq`, which no client id can be).
   */
  clientId: string | null;
  at: number;
}

/**
 * A change to a room. `applyChanges` checks, inside its transaction, the facts only storage can
 * check atomically (the actor is still a member, the message exists in the room and is not
 * deleted, the reaction limit, the room limit, the room not archived); authorization (who may
 * do what) is the caller's. A change that would change nothing (a reaction already there or not
 * there, joining as a member, leaving as a non-member, the same name, topic, role, archived state,
 * or text and mentions) is ok with `event: null` and writes nothing. `message_deleted` erases the
 * text, mentions and reactions, keeping a tombstone.
 */
export type RoomChange =
  | (ChangeBase & { kind: 'message_created'; text: string; mentions: number[] })
  | (ChangeBase & { kind: 'message_edited'; messageId: number; text: string; mentions: number[] })
  | (ChangeBase & { kind: 'message_deleted'; messageId: number })
  | (ChangeBase & { kind: 'reaction_added' | 'reaction_removed'; messageId: number; emoji: string })
  /**
   * The actor joins (public room, or `general` on registration) or is invited/added by another.
   * The newcomer's `readSeq` starts at this event: the history before it is not unread.
   */
  | (ChangeBase & { kind: 'member_joined' | 'member_invited'; userId: number; role: Role })
  | (ChangeBase & { kind: 'member_left' | 'member_removed'; userId: number })
  | (ChangeBase & { kind: 'member_role_changed'; userId: number; role: Role })
  | (ChangeBase & { kind: 'room_renamed'; name: string })
  | (ChangeBase & { kind: 'room_topic_changed'; topic: string })
  | (ChangeBase & { kind: 'room_archived'; archived: boolean });

export type ChangeError =
  | 'room_not_found'
  | 'message_not_found'
  | 'message_deleted'
  | 'not_a_member'
  /** member_joined / member_invited of a user id that does not exist. */
  | 'user_not_found'
  | 'too_many_reactions'
  | 'too_many_rooms'
  | 'room_archived'
  /** The (actorId, clientId) was stored for a different kind of change or another room. */
  | 'idempotency_conflict';

export type ChangeResult =
  | {
      ok: true;
      /** The event stored, or (with `duplicate`) the one stored the first time; null when the change was a no-op. */
      event: EventRecord | null;
      duplicate: boolean;
      /** For message and reaction changes: the message after the change. */
      message?: MessageRecord;
    }
  | { ok: false; error: ChangeError };

export interface NewRoom {
  /** Chosen by the caller (random), so a retried creation can name the room it expects. */
  id: string;
  kind: RoomKind;
  name: string;
  topic: string;
  visibility: RoomVisibility;
  createdBy: number;
  clientId: string | null;
  dmKey: string | null;
  at: number;
  /** Everyone in it from the start: the creator (`owner` for channels, `member` in DMs) and, for DMs, the others. */
  members: { userId: number; role: Role }[];
}

export type CreateRoomResult =
  | { ok: true; room: RoomRecord; duplicate: boolean; events: EventRecord[] }
  | { ok: false; error: 'too_many_rooms' | 'idempotency_conflict' };

export interface HistoryRange {
  /** Only messages with seq < before. */
  before?: number;
  /** Only messages with seq > after. */
  after?: number;
  limit: number;
}

export interface HistoryPage {
  /** Oldest first. */
  messages: MessageWithAuthor[];
  /** More exist beyond the page in the direction asked. */
  hasMore: boolean;
  /** The room's lastSeq, read in the same transaction as the page: the page reflects every event up to it. */
  lastSeq: number;
  /**
   * Membership events (joined, invited, left, removed) in the span of the log the page covers
   * (see `MessageReads.page`), oldest first, at most `limit` of them, the newest kept.
   */
  membership: EventWithRefs[];
}


/** Thrown by createUser when a unique column collides. The database decides, not a prior read. */
export class UniqueViolation extends Error {
  constructor(readonly field: 'username' | 'email') {
    super(`${field} already exists`);
  }
}

export interface ChatStore {
  /** Apply pending migrations. Safe to call on every start. */
  migrate(): Promise<void>;

  createUser(input: { username: string; email: string | null; passwordHash: string; createdAt: number }): Promise<UserRecord>;
  getUserById(id: number): Promise<UserRecord | null>;
  /** Case-insensitive match on username, or on email. */
  getUserByLogin(login: { username?: string; email?: string }): Promise<UserRecord | null>;
  setPasswordHash(userId: number, passwordHash: string): Promise<void>;
  setAvatarKey(userId: number, avatarKey: string | null): Promise<void>;

  /** `lastSeenAt` starts at `createdAt`; `device` defaults to ''. */
  createSession(input: { tokenHash: Buffer; userId: number; createdAt: number; expiresAt: number; device?: string }): Promise<SessionRecord>;
  getSessionByTokenHash(tokenHash: Buffer): Promise<SessionRecord | null>;
  getSessionById(id: number): Promise<SessionRecord | null>;
  /** Move the expiry; also `lastSeenAt` when given. */
  extendSession(id: number, expiresAt: number, lastSeenAt?: number): Promise<void>;
  deleteSession(id: number): Promise<void>;
  /** Delete all of a user's sessions except one; returns the ids deleted. */
  deleteUserSessions(userId: number, exceptSessionId?: number): Promise<number[]>;
  /** A user's sessions, most recently seen first (expired ones not yet purged included). */
  listUserSessions(userId: number): Promise<SessionRecord[]>;
  /** Delete one session if it belongs to the user; false when there is no such session of theirs. */
  deleteUserSession(userId: number, sessionId: number): Promise<boolean>;
  /** Delete sessions (and device cookies) that expired before `now`; returns how many sessions. */
  purgeExpiredSessions(now: number): Promise<number>;

  createLoginDevice(input: { tokenHash: Buffer; userId: number; createdAt: number; expiresAt: number }): Promise<void>;
  getLoginDevice(tokenHash: Buffer): Promise<LoginDeviceRecord | null>;
  deleteLoginDevice(tokenHash: Buffer): Promise<void>;

  /** Users whose username starts with `prefix`, case-insensitive, shortest name first. */
  searchUsers(prefix: string, limit: number): Promise<UserRecord[]>;
  getUsersByIds(ids: number[]): Promise<UserRecord[]>;
  getUsersByUsernames(usernames: string[]): Promise<UserRecord[]>;

  /** Create the room if it does not exist (the default room on start); never changes an existing one. */
  ensureRoom(room: { id: string; name: string; createdAt: number }): Promise<RoomRecord>;
  getRoom(id: string): Promise<RoomRecord | null>;
  getRoomByDmKey(dmKey: string): Promise<RoomRecord | null>;
  /** Public channels, not archived, most members first; `prefix` filters on the name, case-insensitive. */
  listPublicRooms(query: { prefix?: string; limit: number }): Promise<RoomRecord[]>;
  /**
   * Create a room with its first members in ONE transaction: `room_created`, then one
   * `member_joined` (the creator) or `member_invited` (the others) per member. A retried
   * (createdBy, clientId) returns the room created the first time, `duplicate: true`. A DM whose
   * `dmKey` exists already (two people opening it at once) returns that room, `duplicate: true`,
   * `events: []`. `too_many_rooms` when any of the members is in `roomsPerUserMax` rooms.
   * Members start with `readSeq` at the last creation event: nothing is unread.
   */
  createRoom(room: NewRoom): Promise<CreateRoomResult>;

  getMember(roomId: string, userId: number): Promise<MemberRecord | null>;
  /** Members by join time; pages with `afterUserId` are not needed yet (rooms list at most `limit`). */
  listMembers(roomId: string, limit: number): Promise<{ member: MemberRecord; user: UserRecord }[]>;
  /** Every room the user is in, most recently active first, with unread and mention counts capped at `countCap`. */
  listUserRooms(userId: number, countCap: number): Promise<UserRoom[]>;
  /** The ids of the rooms the user is in, and nothing else: what a connecting socket subscribes to before it reads them. */
  listUserRoomIds(userId: number): Promise<string[]>;
  /** One room of the user's, as `listUserRooms` would list it, or null if they are not in it. */
  getUserRoom(userId: number, roomId: string, countCap: number): Promise<UserRoom | null>;
  /**
   * Move the user's read position forward to `seq` (clamped to the room's lastSeq; never backward).
   * Returns the position and counts after, with the room's lastSeq read in the same transaction (the
   * counts include every message up to it), or null if the user is not in the room.
   */
  markRead(roomId: string, userId: number, seq: number, countCap: number): Promise<{ readSeq: number; unread: number; mentions: number; lastSeq: number } | null>;
  setNotify(roomId: string, userId: number, notify: NotifyLevel): Promise<boolean>;

  /**
   * Apply a batch of changes in ONE transaction (group commit): each that changes something gets
   * the next seq of its room and its event; state tables are written in the same transaction.
   * Resolves only once the batch is durable. Results are in the order of the batch.
   */
  applyChanges(batch: RoomChange[]): Promise<ChangeResult[]>;
  getMessage(roomId: string, messageId: number): Promise<MessageWithAuthor | null>;
  getMessages(roomId: string, range: HistoryRange): Promise<HistoryPage>;
  /** Events with seq > after, oldest first, at most `limit`; `hasMore` when the log goes on. */
  getEvents(roomId: string, range: { after: number; limit: number }): Promise<{ events: EventWithRefs[]; hasMore: boolean; lastSeq: number }>;

  close(): Promise<void>;
}
