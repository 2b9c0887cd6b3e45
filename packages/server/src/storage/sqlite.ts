import Database from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { ChangeWriter } from './sqlite/changes.js';
import { MessageReads } from './sqlite/messages.js';
import { MIGRATIONS } from './sqlite/migrations.js';
import { toEvent, toMember, toRoom, toSession, toUser, type Row } from './sqlite/rows.js';
import { WalSync, type SyncFile } from './sqlite/wal-sync.js';
import {
  UniqueViolation,
  type ChangeResult,
  type ChatStore,
  type CreateRoomResult,
  type EventWithRefs,
  type HistoryPage,
  type HistoryRange,
  type LoginDeviceRecord,
  type MemberRecord,
  type MessageWithAuthor,
  type NewRoom,
  type NotifyLevel,
  type RoomChange,
  type RoomRecord,
  type SessionRecord,
  type UserRecord,
  type UserRoom,
} from './types.js';

export { MIGRATIONS };

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. */
  file: string;
  /**
   * `full`: a write resolves once it is on disk (survives power loss), by a group fsync off the
   * event loop (`WalSync`); `normal`: once committed to the OS (survives a crash of the process only).
   */
  synchronous?: 'full' | 'normal';
  /** Test seam: how the write-ahead log is synced (default: `fdatasync` on the thread pool). */
  syncFile?: SyncFile;
}

/**
 * The embedded store. Its parts, by job: `sqlite/migrations.ts` (the schema), `sqlite/changes.ts`
 * (the room log's write side: applyChanges and createRoom), `sqlite/messages.ts` (message pages
 * with mentions and reactions), `sqlite/rows.ts` (rows to records); accounts, sessions, rooms,
 * memberships and read state are here.
 */
export class SqliteStore implements ChatStore {
  private readonly db: Database.Database;
  /** Null where nothing is synced: `synchronous: 'normal'`, or a database in memory. */
  private readonly wal: WalSync | null;
  private stmts!: ReturnType<SqliteStore['prepare']>;
  private messages!: MessageReads;
  private writer!: ChangeWriter;
  private applyTx!: (batch: RoomChange[]) => ChangeResult[];
  private createRoomTx!: (room: NewRoom) => CreateRoomResult;
  private pageTx!: (roomId: string, range: HistoryRange) => HistoryPage;
  private eventsTx!: (roomId: string, after: number, limit: number) => { events: EventWithRefs[]; hasMore: boolean; lastSeq: number };
  private markReadTx!: (roomId: string, userId: number, seq: number, countCap: number) => { readSeq: number; unread: number; mentions: number; lastSeq: number } | null;

  constructor(options: SqliteStoreOptions) {
    if (options.file !== ':memory:') restrictFiles(options.file);
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in both modes: in `full` the commits' fsync is WalSync's, off the event loop.
    this.db.pragma('synchronous = NORMAL');
    this.wal = options.synchronous === 'normal' || options.file === ':memory:' ? null : new WalSync(`${options.file}-wal`, options.syncFile);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    // Freed space is zeroed, so a deleted message's text does not linger in free pages or cells.
    this.db.pragma('secure_delete = ON');
  }

  async migrate(): Promise<void> {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
    if (current < MIGRATIONS.length) await this.durable();
    this.stmts = this.prepare();
    this.messages = new MessageReads(this.db);
    this.writer = new ChangeWriter(this.db, this.messages);
    this.applyTx = this.db.transaction((batch: RoomChange[]) => batch.map((c) => this.writer.apply(c)));
    this.createRoomTx = this.db.transaction((room: NewRoom) => this.writer.createRoom(room));
    this.pageTx = this.db.transaction((roomId: string, range: HistoryRange) => this.messages.page(roomId, range));
    this.eventsTx = this.db.transaction((roomId: string, after: number, limit: number) => this.readEvents(roomId, after, limit));
    this.markReadTx = this.db.transaction((roomId: string, userId: number, seq: number, countCap: number) => {
      const readSeq = this.stmts.markRead.get(seq, roomId, roomId, userId) as number | undefined;
      if (readSeq === undefined) return null;
      return { readSeq, ...this.counts(roomId, userId, readSeq, countCap), lastSeq: this.stmts.lastSeq.get(roomId) as number };
    });
  }

  private prepare() {
    const db = this.db;
    return {
      insertUser: db.prepare(
        `INSERT INTO users (username, username_key, email, email_key, password_hash, created_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
      ),
      userById: db.prepare('SELECT * FROM users WHERE id = ?'),
      userByName: db.prepare('SELECT * FROM users WHERE username_key = ?'),
      userByEmail: db.prepare('SELECT * FROM users WHERE email_key = ?'),
      setPassword: db.prepare('UPDATE users SET password_hash = ? WHERE id = ?'),
      setAvatar: db.prepare('UPDATE users SET avatar_key = ? WHERE id = ?'),
      insertSession: db.prepare(
        'INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at, device) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      ),
      sessionByHash: db.prepare('SELECT * FROM sessions WHERE token_hash = ?'),
      sessionById: db.prepare('SELECT * FROM sessions WHERE id = ?'),
      extendSession: db.prepare('UPDATE sessions SET expires_at = ?, last_seen_at = coalesce(?, last_seen_at) WHERE id = ?'),
      userSessions: db.prepare('SELECT * FROM sessions WHERE user_id = ? ORDER BY coalesce(last_seen_at, created_at) DESC, id DESC'),
      deleteUserSession: db.prepare('DELETE FROM sessions WHERE id = ? AND user_id = ?'),
      insertDevice: db.prepare('INSERT INTO login_devices (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)'),
      deviceByHash: db.prepare('SELECT * FROM login_devices WHERE token_hash = ?'),
      deleteDevice: db.prepare('DELETE FROM login_devices WHERE token_hash = ?'),
      purgeDevices: db.prepare('DELETE FROM login_devices WHERE expires_at < ?'),
      deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
      deleteUserSessions: db.prepare('DELETE FROM sessions WHERE user_id = ? AND id IS NOT ? RETURNING id'),
      purgeSessions: db.prepare('DELETE FROM sessions WHERE expires_at < ?'),
      insertRoom: db.prepare(
        `INSERT INTO rooms (id, kind, name, topic, visibility, created_at, last_activity_at)
         VALUES (?, 'channel', ?, '', 'public', ?, ?) ON CONFLICT (id) DO NOTHING`,
      ),
      roomById: db.prepare('SELECT * FROM rooms WHERE id = ?'),
      roomByDmKey: db.prepare('SELECT * FROM rooms WHERE dm_key = ?'),
      publicRooms: db.prepare(
        `SELECT * FROM rooms WHERE kind = 'channel' AND visibility = 'public' AND archived = 0
           AND ($pattern IS NULL OR name LIKE $pattern ESCAPE '\\')
         ORDER BY member_count DESC, id LIMIT $limit`,
      ),
      member: db.prepare('SELECT * FROM members WHERE room_id = ? AND user_id = ?'),
      members: db.prepare(
        `SELECT mb.room_id AS m_room_id, mb.user_id AS m_user_id, mb.role AS m_role, mb.joined_at AS m_joined_at,
                mb.read_seq AS m_read_seq, mb.notify_level AS m_notify_level, u.*
         FROM members mb JOIN users u ON u.id = mb.user_id
         WHERE mb.room_id = ? ORDER BY mb.joined_at, mb.user_id LIMIT ?`,
      ),
      // Counts stop at the cap, and cost at most about twice it (see USER_ROOMS).
      // Mentions of deleted messages are deleted with them; the user's own messages never count.
      userRooms: db.prepare(`${USER_ROOMS} WHERE mb.user_id = $user ORDER BY r.last_activity_at DESC, r.id`),
      userRoom: db.prepare(`${USER_ROOMS} WHERE mb.user_id = $user AND mb.room_id = $room`),
      unread: db.prepare(UNREAD).pluck(),
      mentionCount: db.prepare(MENTIONS).pluck(),
      // Forward only, and never past the room's log.
      markRead: db.prepare(
        `UPDATE members SET read_seq = max(read_seq, min(?, (SELECT last_seq FROM rooms WHERE id = ?)))
         WHERE room_id = ? AND user_id = ? RETURNING read_seq`,
      ).pluck(),
      userRoomIds: db.prepare('SELECT room_id FROM members WHERE user_id = ?').pluck(),
      setNotify: db.prepare('UPDATE members SET notify_level = ? WHERE room_id = ? AND user_id = ?'),
      searchUsers: db.prepare(
        'SELECT * FROM users WHERE username_key >= ? AND username_key < ? ORDER BY length(username_key), username_key LIMIT ?',
      ),
      usersByIds: db.prepare('SELECT * FROM users WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id'),
      usersByKeys: db.prepare('SELECT * FROM users WHERE username_key IN (SELECT value FROM json_each(?)) ORDER BY id'),
      lastSeq: db.prepare('SELECT last_seq FROM rooms WHERE id = ?').pluck(),
      events: db.prepare('SELECT * FROM events WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
    };
  }

  async createUser(input: { username: string; email: string | null; passwordHash: string; createdAt: number }): Promise<UserRecord> {
    try {
      const row = this.stmts.insertUser.get(
        input.username,
        input.username.toLowerCase(),
        input.email,
        input.email?.toLowerCase() ?? null,
        input.passwordHash,
        input.createdAt,
      ) as Row;
      return await this.durable(toUser(row));
    } catch (err) {
      const message = (err as Error).message;
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new UniqueViolation(message.includes('email_key') ? 'email' : 'username');
      }
      throw err;
    }
  }

  async getUserById(id: number): Promise<UserRecord | null> {
    await this.settled();
    const row = this.stmts.userById.get(id) as Row | undefined;
    return row ? toUser(row) : null;
  }

  async getUserByLogin(login: { username?: string; email?: string }): Promise<UserRecord | null> {
    await this.settled();
    const row = (
      login.username !== undefined
        ? this.stmts.userByName.get(login.username.toLowerCase())
        : login.email !== undefined
          ? this.stmts.userByEmail.get(login.email.toLowerCase())
          : undefined
    ) as Row | undefined;
    return row ? toUser(row) : null;
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<void> {
    this.stmts.setPassword.run(passwordHash, userId);
    await this.durable();
  }

  async setAvatarKey(userId: number, avatarKey: string | null): Promise<void> {
    this.stmts.setAvatar.run(avatarKey, userId);
    await this.durable();
  }

  async createSession(input: { tokenHash: Buffer; userId: number; createdAt: number; expiresAt: number; device?: string }): Promise<SessionRecord> {
    const row = this.stmts.insertSession.get(input.tokenHash, input.userId, input.createdAt, input.expiresAt, input.createdAt, input.device ?? '') as Row;
    return this.durable(toSession(row));
  }

  async getSessionByTokenHash(tokenHash: Buffer): Promise<SessionRecord | null> {
    await this.settled();
    const row = this.stmts.sessionByHash.get(tokenHash) as Row | undefined;
    return row ? toSession(row) : null;
  }

  async getSessionById(id: number): Promise<SessionRecord | null> {
    await this.settled();
    const row = this.stmts.sessionById.get(id) as Row | undefined;
    return row ? toSession(row) : null;
  }

  async extendSession(id: number, expiresAt: number, lastSeenAt?: number): Promise<void> {
    this.stmts.extendSession.run(expiresAt, lastSeenAt ?? null, id);
    await this.durable();
  }

  async listUserSessions(userId: number): Promise<SessionRecord[]> {
    await this.settled();
    return (this.stmts.userSessions.all(userId) as Row[]).map(toSession);
  }

  async deleteUserSession(userId: number, sessionId: number): Promise<boolean> {
    return this.durable(this.stmts.deleteUserSession.run(sessionId, userId).changes > 0);
  }

  async createLoginDevice(input: { tokenHash: Buffer; userId: number; createdAt: number; expiresAt: number }): Promise<void> {
    this.stmts.insertDevice.run(input.tokenHash, input.userId, input.createdAt, input.expiresAt);
    await this.durable();
  }

  async getLoginDevice(tokenHash: Buffer): Promise<LoginDeviceRecord | null> {
    await this.settled();
    const row = this.stmts.deviceByHash.get(tokenHash) as Row | undefined;
    return row ? { userId: row.user_id as number, createdAt: row.created_at as number, expiresAt: row.expires_at as number } : null;
  }

  async deleteLoginDevice(tokenHash: Buffer): Promise<void> {
    this.stmts.deleteDevice.run(tokenHash);
    await this.durable();
  }

  async deleteSession(id: number): Promise<void> {
    this.stmts.deleteSession.run(id);
    await this.durable();
  }

  async deleteUserSessions(userId: number, exceptSessionId?: number): Promise<number[]> {
    const rows = this.stmts.deleteUserSessions.all(userId, exceptSessionId ?? null) as Row[];
    return this.durable(rows.map((r) => r.id as number));
  }

  async purgeExpiredSessions(now: number): Promise<number> {
    this.stmts.purgeDevices.run(now);
    return this.durable(this.stmts.purgeSessions.run(now).changes);
  }

  async searchUsers(prefix: string, limit: number): Promise<UserRecord[]> {
    await this.settled();
    const key = prefix.toLowerCase();
    // A range on the unique index: no pattern matching, so `%` and `_` are plain characters.
    return (this.stmts.searchUsers.all(key, `${key}\u{10FFFF}`, limit) as Row[]).map(toUser);
  }

  async getUsersByIds(ids: number[]): Promise<UserRecord[]> {
    await this.settled();
    if (ids.length === 0) return [];
    return (this.stmts.usersByIds.all(JSON.stringify(ids)) as Row[]).map(toUser);
  }

  async getUsersByUsernames(usernames: string[]): Promise<UserRecord[]> {
    await this.settled();
    if (usernames.length === 0) return [];
    return (this.stmts.usersByKeys.all(JSON.stringify(usernames.map((u) => u.toLowerCase()))) as Row[]).map(toUser);
  }

  async ensureRoom(room: { id: string; name: string; createdAt: number }): Promise<RoomRecord> {
    this.stmts.insertRoom.run(room.id, room.name, room.createdAt, room.createdAt);
    return this.durable(toRoom(this.stmts.roomById.get(room.id) as Row));
  }

  async getRoom(id: string): Promise<RoomRecord | null> {
    await this.settled();
    const row = this.stmts.roomById.get(id) as Row | undefined;
    return row ? toRoom(row) : null;
  }

  async getRoomByDmKey(dmKey: string): Promise<RoomRecord | null> {
    await this.settled();
    const row = this.stmts.roomByDmKey.get(dmKey) as Row | undefined;
    return row ? toRoom(row) : null;
  }

  async listPublicRooms(query: { prefix?: string; limit: number }): Promise<RoomRecord[]> {
    await this.settled();
    const pattern = query.prefix ? `${query.prefix.replace(/[\\%_]/g, '\\$&')}%` : null;
    return (this.stmts.publicRooms.all({ pattern, limit: query.limit }) as Row[]).map(toRoom);
  }

  async createRoom(room: NewRoom): Promise<CreateRoomResult> {
    return this.durable(this.createRoomTx(room));
  }

  async getMember(roomId: string, userId: number): Promise<MemberRecord | null> {
    await this.settled();
    const row = this.stmts.member.get(roomId, userId) as Row | undefined;
    return row ? toMember(row) : null;
  }

  async listMembers(roomId: string, limit: number): Promise<{ member: MemberRecord; user: UserRecord }[]> {
    await this.settled();
    return (this.stmts.members.all(roomId, limit) as Row[]).map((r) => ({ member: toMember(r, 'm_'), user: toUser(r) }));
  }

  async listUserRoomIds(userId: number): Promise<string[]> {
    await this.settled();
    return this.stmts.userRoomIds.all(userId) as string[];
  }

  async listUserRooms(userId: number, countCap: number): Promise<UserRoom[]> {
    await this.settled();
    return this.userRooms(userId, null, countCap);
  }

  async getUserRoom(userId: number, roomId: string, countCap: number): Promise<UserRoom | null> {
    await this.settled();
    return this.userRooms(userId, roomId, countCap)[0] ?? null;
  }

  /** The user's rooms (or one of them) with their counts, capped, in one statement (see USER_ROOMS). */
  private userRooms(userId: number, roomId: string | null, cap: number): UserRoom[] {
    const rows = (roomId === null ? this.stmts.userRooms.all({ user: userId, cap }) : this.stmts.userRoom.all({ user: userId, room: roomId, cap })) as Row[];
    return rows.map((r) => {
      const u = toUserRoom(r);
      u.unread = Math.min(u.unread, cap);
      u.mentions = Math.min(u.mentions, cap);
      return u;
    });
  }

  async markRead(roomId: string, userId: number, seq: number, countCap: number): Promise<{ readSeq: number; unread: number; mentions: number; lastSeq: number } | null> {
    return this.durable(this.markReadTx(roomId, userId, seq, countCap));
  }

  async setNotify(roomId: string, userId: number, notify: NotifyLevel): Promise<boolean> {
    return this.durable(this.stmts.setNotify.run(notify, roomId, userId).changes > 0);
  }

  async applyChanges(batch: RoomChange[]): Promise<ChangeResult[]> {
    if (batch.length === 0) return [];
    this.writer.erased = false;
    const results = this.applyTx(batch);
    if (this.writer.erased) {
      // The old page images with the deleted text sit in the WAL until it is overwritten; a
      // TRUNCATE checkpoint writes the zeroed pages into the database and empties the WAL, so the
      // text is gone from every file now. Deletions are rare, and the WAL is small when they are
      // frequent, so this costs little.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
    return this.durable(results);
  }

  async getMessage(roomId: string, messageId: number): Promise<MessageWithAuthor | null> {
    await this.settled();
    return this.messages.one(roomId, messageId);
  }

  async getMessages(roomId: string, range: HistoryRange): Promise<HistoryPage> {
    await this.settled();
    return this.pageTx(roomId, range);
  }

  async getEvents(roomId: string, range: { after: number; limit: number }): Promise<{ events: EventWithRefs[]; hasMore: boolean; lastSeq: number }> {
    await this.settled();
    return this.eventsTx(roomId, range.after, range.limit);
  }

  private readEvents(roomId: string, after: number, limit: number): { events: EventWithRefs[]; hasMore: boolean; lastSeq: number } {
    const lastSeq = (this.stmts.lastSeq.get(roomId) as number | undefined) ?? 0;
    const rows = this.stmts.events.all(roomId, after, limit + 1) as Row[];
    const events = rows.slice(0, limit).map(toEvent);
    const messageIds = [...new Set(events.filter((e) => e.messageId !== null).map((e) => e.messageId!))];
    const userIds = [...new Set(events.filter((e) => e.userId !== null).map((e) => e.userId!))];
    const messages = this.messages.byIds(messageIds);
    const users = new Map(
      (userIds.length ? (this.stmts.usersByIds.all(JSON.stringify(userIds)) as Row[]) : []).map((r) => [
        r.id as number,
        { id: r.id as number, username: r.username as string, avatarKey: (r.avatar_key as string | null) ?? null },
      ]),
    );
    return {
      events: events.map((e) => ({
        ...e,
        message: e.messageId === null ? null : (messages.get(e.messageId) ?? null),
        user: e.userId === null ? null : (users.get(e.userId) ?? null),
      })),
      hasMore: rows.length > limit,
      lastSeq,
    };
  }

  private counts(roomId: string, userId: number, readSeq: number, cap: number): { unread: number; mentions: number } {
    const params = { room: roomId, user: userId, read: readSeq, cap };
    return { unread: this.stmts.unread.get(params) as number, mentions: this.stmts.mentionCount.get(params) as number };
  }

  /** Resolves with `result` once the commit that made it is on disk (see WalSync). */
  private async durable<T = void>(result?: T): Promise<T> {
    await this.wal?.committed();
    return result as T;
  }

  /** Before a read: what it returns must not be something a power cut could still take back. */
  private settled(): Promise<void> | undefined {
    return this.wal?.settled();
  }

  async close(): Promise<void> {
    await this.wal?.close();
    if (this.db.open) this.db.close();
  }
}

const UNREAD = `SELECT count(*) FROM (
  SELECT 1 FROM messages m WHERE m.room_id = $room AND m.seq > $read AND m.author_id <> $user AND m.deleted_at IS NULL LIMIT $cap)`;
const MENTIONS = `SELECT count(*) FROM (
  SELECT 1 FROM mentions mt JOIN messages m ON m.id = mt.message_id
  WHERE mt.room_id = $room AND mt.user_id = $user AND mt.seq > $read AND m.author_id <> $user LIMIT $cap)`;
/**
 * The counts of a room list, in the list's one statement, each stepping over at most about twice
 * the cap of index entries however far behind the reader is. A room whose event span is within the
 * cap (`last_seq - read_seq <= $cap`, the common case) gets a plain count(*), which costs less than
 * half of one through a LIMIT subquery (SQLite runs that as a co-routine per room). Any other room is
 * decided by what is counted, not by its events: whether a (cap+1)-th counted entry exists after the
 * read position (one probe stepping over at most the cap's entries). If it does, the count is the
 * cap; if not, a plain count steps over no more than the cap's. So a room whose log is mostly joins
 * (`general`, which everyone joins) costs what its few messages do, and a far room what the cap does.
 */
const NEAR = 'r.last_seq - mb.read_seq <= $cap';
const NEAR_UNREAD = `SELECT count(*) FROM messages m
  WHERE m.room_id = mb.room_id AND m.seq > mb.read_seq AND m.author_id <> mb.user_id AND m.deleted_at IS NULL`;
const NEAR_MENTIONS = `SELECT count(*) FROM mentions mt JOIN messages m ON m.id = mt.message_id
  WHERE mt.room_id = mb.room_id AND mt.user_id = mb.user_id AND mt.seq > mb.read_seq AND m.author_id <> mb.user_id`;
/** True when the count would pass the cap: its (cap+1)-th entry exists. */
const PAST_CAP = (count: string) => `(${count.replace('SELECT count(*)', 'SELECT 1')} LIMIT 1 OFFSET $cap) IS NOT NULL`;
const USER_ROOMS = `SELECT r.*, mb.room_id AS m_room_id, mb.user_id AS m_user_id, mb.role AS m_role, mb.joined_at AS m_joined_at,
    mb.read_seq AS m_read_seq, mb.notify_level AS m_notify_level,
    CASE WHEN r.last_seq <= mb.read_seq THEN 0 WHEN ${NEAR} THEN (${NEAR_UNREAD})
      WHEN ${PAST_CAP(NEAR_UNREAD)} THEN $cap ELSE (${NEAR_UNREAD}) END AS unread,
    CASE WHEN r.last_seq <= mb.read_seq THEN 0 WHEN ${NEAR} THEN (${NEAR_MENTIONS})
      WHEN ${PAST_CAP(NEAR_MENTIONS)} THEN $cap ELSE (${NEAR_MENTIONS}) END AS mentions
  FROM members mb JOIN rooms r ON r.id = mb.room_id`;

function toUserRoom(r: Row): UserRoom {
  return { room: toRoom(r), member: toMember(r, 'm_'), unread: r.unread as number, mentions: r.mentions as number };
}

/**
 * The database holds password hashes and session-token hashes: only the server's own user may read
 * it. SQLite would create it 0644 (less the umask) and gives its -wal and -shm files the database
 * file's mode, so the file is created 0600 before SQLite opens it; files left by an older version
 * are tightened. A directory made here is 0700; one the operator made keeps its mode.
 */
function restrictFiles(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      chmodSync(path, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
