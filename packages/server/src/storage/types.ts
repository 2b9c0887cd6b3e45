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

export interface RoomRecord {
  id: string;
  name: string;
  lastSeq: number;
  createdAt: number;
}

export interface MessageRecord {
  id: number;
  roomId: string;
  seq: number;
  authorId: number;
  clientId: string;
  text: string;
  createdAt: number;
}

/** A stored message joined with the author fields a client needs. */
export interface MessageWithAuthor extends MessageRecord {
  authorUsername: string;
  authorAvatarKey: string | null;
}

export interface NewMessage {
  roomId: string;
  authorId: number;
  clientId: string;
  text: string;
  createdAt: number;
}

export type AppendResult =
  | { ok: true; message: MessageRecord; duplicate: boolean }
  | { ok: false; error: 'room_not_found' };

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

  ensureRoom(room: { id: string; name: string; createdAt: number }): Promise<RoomRecord>;
  getRoom(id: string): Promise<RoomRecord | null>;
  listRooms(): Promise<RoomRecord[]>;

  /**
   * Store a batch of messages in ONE transaction: each gets the next sequence of its room.
   * A message whose (authorId, clientId) already exists is not stored again; its original is
   * returned with `duplicate: true`. Resolves only once the batch is durable.
   */
  appendMessages(batch: NewMessage[]): Promise<AppendResult[]>;
  getMessages(roomId: string, range: HistoryRange): Promise<HistoryPage>;

  close(): Promise<void>;
}
