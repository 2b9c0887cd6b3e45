import Database from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  UniqueViolation,
  type AppendResult,
  type ChatStore,
  type HistoryPage,
  type HistoryRange,
  type LoginDeviceRecord,
  type MessageRecord,
  type MessageWithAuthor,
  type NewMessage,
  type RoomRecord,
  type SessionRecord,
  type UserRecord,
} from './types.js';

/**
 * Versioned migrations, applied in order inside one transaction each; `PRAGMA user_version`
 * records the last applied. Never edit a shipped migration: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id INTEGER PRIMARY KEY,
     username TEXT NOT NULL,
     username_key TEXT NOT NULL UNIQUE,   -- lower(username): uniqueness is case-insensitive
     email TEXT,
     email_key TEXT UNIQUE,
     password_hash TEXT NOT NULL,
     avatar_key TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE sessions (
     id INTEGER PRIMARY KEY,
     token_hash BLOB NOT NULL UNIQUE,     -- SHA-256 of the token; the token itself is never stored
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX sessions_user ON sessions(user_id);
   CREATE INDEX sessions_expiry ON sessions(expires_at);
   CREATE TABLE rooms (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     last_seq INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE messages (
     id INTEGER PRIMARY KEY,
     room_id TEXT NOT NULL REFERENCES rooms(id),
     seq INTEGER NOT NULL,
     author_id INTEGER NOT NULL REFERENCES users(id),
     client_id TEXT NOT NULL,
     text TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     UNIQUE (room_id, seq),
     UNIQUE (author_id, client_id)        -- makes a resent message idempotent
   );`,
  `ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;   -- NULL: not seen since created_at
   ALTER TABLE sessions ADD COLUMN device TEXT NOT NULL DEFAULT '';
   CREATE TABLE login_devices (
     token_hash BLOB PRIMARY KEY,         -- SHA-256 of the device cookie; the cookie itself is never stored
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX login_devices_expiry ON login_devices(expires_at);`,
];

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. */
  file: string;
  /** `full` fsyncs every commit (survives power loss); `normal` survives a process crash only. */
  synchronous?: 'full' | 'normal';
}

type Row = Record<string, unknown>;

export class SqliteStore implements ChatStore {
  private readonly db: Database.Database;
  private stmts!: ReturnType<SqliteStore['prepare']>;
  private appendTx!: (batch: NewMessage[]) => AppendResult[];

  constructor(options: SqliteStoreOptions) {
    if (options.file !== ':memory:') restrictFiles(options.file);
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
  }

  async migrate(): Promise<void> {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
    this.stmts = this.prepare();
    this.appendTx = this.db.transaction((batch: NewMessage[]) => batch.map((m) => this.appendOne(m)));
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
      insertRoom: db.prepare('INSERT INTO rooms (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING'),
      roomById: db.prepare('SELECT * FROM rooms WHERE id = ?'),
      listRooms: db.prepare('SELECT * FROM rooms ORDER BY created_at, id'),
      bumpSeq: db.prepare('UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq'),
      messageByClientId: db.prepare('SELECT * FROM messages WHERE author_id = ? AND client_id = ?'),
      insertMessage: db.prepare(
        `INSERT INTO messages (room_id, seq, author_id, client_id, text, created_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
      ),
      // Newest page below a cursor, read backwards along the (room_id, seq) index.
      before: db.prepare(
        `SELECT m.*, u.username AS author_username, u.avatar_key AS author_avatar_key
         FROM messages m JOIN users u ON u.id = m.author_id
         WHERE m.room_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`,
      ),
      after: db.prepare(
        `SELECT m.*, u.username AS author_username, u.avatar_key AS author_avatar_key
         FROM messages m JOIN users u ON u.id = m.author_id
         WHERE m.room_id = ? AND m.seq > ? AND m.seq < ? ORDER BY m.seq ASC LIMIT ?`,
      ),
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
      return toUser(row);
    } catch (err) {
      const message = (err as Error).message;
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new UniqueViolation(message.includes('email_key') ? 'email' : 'username');
      }
      throw err;
    }
  }

  async getUserById(id: number): Promise<UserRecord | null> {
    const row = this.stmts.userById.get(id) as Row | undefined;
    return row ? toUser(row) : null;
  }

  async getUserByLogin(login: { username?: string; email?: string }): Promise<UserRecord | null> {
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
  }

  async setAvatarKey(userId: number, avatarKey: string | null): Promise<void> {
    this.stmts.setAvatar.run(avatarKey, userId);
  }

  async createSession(input: { tokenHash: Buffer; userId: number; createdAt: number; expiresAt: number; device?: string }): Promise<SessionRecord> {
    const row = this.stmts.insertSession.get(input.tokenHash, input.userId, input.createdAt, input.expiresAt, input.createdAt, input.device ?? '') as Row;
    return toSession(row);
  }

  async getSessionByTokenHash(tokenHash: Buffer): Promise<SessionRecord | null> {
    const row = this.stmts.sessionByHash.get(tokenHash) as Row | undefined;
    return row ? toSession(row) : null;
  }

  async getSessionById(id: number): Promise<SessionRecord | null> {
    const row = this.stmts.sessionById.get(id) as Row | undefined;
    return row ? toSession(row) : null;
  }

  async extendSession(id: number, expiresAt: number, lastSeenAt?: number): Promise<void> {
    this.stmts.extendSession.run(expiresAt, lastSeenAt ?? null, id);
  }

  async listUserSessions(userId: number): Promise<SessionRecord[]> {
    return (this.stmts.userSessions.all(userId) as Row[]).map(toSession);
  }

  async deleteUserSession(userId: number, sessionId: number): Promise<boolean> {
    return this.stmts.deleteUserSession.run(sessionId, userId).changes > 0;
  }

  async createLoginDevice(input: { tokenHash: Buffer; userId: number; createdAt: number; expiresAt: number }): Promise<void> {
    this.stmts.insertDevice.run(input.tokenHash, input.userId, input.createdAt, input.expiresAt);
  }

  async getLoginDevice(tokenHash: Buffer): Promise<LoginDeviceRecord | null> {
    const row = this.stmts.deviceByHash.get(tokenHash) as Row | undefined;
    return row ? { userId: row.user_id as number, createdAt: row.created_at as number, expiresAt: row.expires_at as number } : null;
  }

  async deleteLoginDevice(tokenHash: Buffer): Promise<void> {
    this.stmts.deleteDevice.run(tokenHash);
  }

  async deleteSession(id: number): Promise<void> {
    this.stmts.deleteSession.run(id);
  }

  async deleteUserSessions(userId: number, exceptSessionId?: number): Promise<number[]> {
    const rows = this.stmts.deleteUserSessions.all(userId, exceptSessionId ?? null) as Row[];
    return rows.map((r) => r.id as number);
  }

  async purgeExpiredSessions(now: number): Promise<number> {
    this.stmts.purgeDevices.run(now);
    return this.stmts.purgeSessions.run(now).changes;
  }

  async ensureRoom(room: { id: string; name: string; createdAt: number }): Promise<RoomRecord> {
    this.stmts.insertRoom.run(room.id, room.name, room.createdAt);
    return toRoom(this.stmts.roomById.get(room.id) as Row);
  }

  async getRoom(id: string): Promise<RoomRecord | null> {
    const row = this.stmts.roomById.get(id) as Row | undefined;
    return row ? toRoom(row) : null;
  }

  async listRooms(): Promise<RoomRecord[]> {
    return (this.stmts.listRooms.all() as Row[]).map(toRoom);
  }

  async appendMessages(batch: NewMessage[]): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    // better-sqlite3 commits synchronously: when this returns, the batch is on disk.
    return this.appendTx(batch);
  }

  private appendOne(m: NewMessage): AppendResult {
    const existing = this.stmts.messageByClientId.get(m.authorId, m.clientId) as Row | undefined;
    if (existing) return { ok: true, message: toMessage(existing), duplicate: true };
    const bumped = this.stmts.bumpSeq.get(m.roomId) as Row | undefined;
    if (!bumped) return { ok: false, error: 'room_not_found' };
    const seq = bumped.last_seq as number;
    const inserted = this.stmts.insertMessage.get(m.roomId, seq, m.authorId, m.clientId, m.text, m.createdAt) as Row;
    return { ok: true, duplicate: false, message: { id: inserted.id as number, seq, ...m } };
  }

  async getMessages(roomId: string, range: HistoryRange): Promise<HistoryPage> {
    const limit = range.limit;
    // Fetch one extra row to learn whether more exist, without a COUNT.
    if (range.after !== undefined) {
      const rows = this.stmts.after.all(roomId, range.after, range.before ?? Number.MAX_SAFE_INTEGER, limit + 1) as Row[];
      const hasMore = rows.length > limit;
      return { messages: rows.slice(0, limit).map(toMessageWithAuthor), hasMore };
    }
    const rows = this.stmts.before.all(roomId, range.before ?? Number.MAX_SAFE_INTEGER, limit + 1) as Row[];
    const hasMore = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map(toMessageWithAuthor), hasMore };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toUser(r: Row): UserRecord {
  return {
    id: r.id as number,
    username: r.username as string,
    email: (r.email as string | null) ?? null,
    passwordHash: r.password_hash as string,
    avatarKey: (r.avatar_key as string | null) ?? null,
    createdAt: r.created_at as number,
  };
}

function toSession(r: Row): SessionRecord {
  return {
    id: r.id as number,
    userId: r.user_id as number,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
    lastSeenAt: (r.last_seen_at as number | null) ?? (r.created_at as number),
    device: r.device as string,
  };
}

function toRoom(r: Row): RoomRecord {
  return { id: r.id as string, name: r.name as string, lastSeq: r.last_seq as number, createdAt: r.created_at as number };
}

function toMessage(r: Row): MessageRecord {
  return {
    id: r.id as number,
    roomId: r.room_id as string,
    seq: r.seq as number,
    authorId: r.author_id as number,
    clientId: r.client_id as string,
    text: r.text as string,
    createdAt: r.created_at as number,
  };
}

function toMessageWithAuthor(r: Row): MessageWithAuthor {
  return { ...toMessage(r), authorUsername: r.author_username as string, authorAvatarKey: (r.author_avatar_key as string | null) ?? null };
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
