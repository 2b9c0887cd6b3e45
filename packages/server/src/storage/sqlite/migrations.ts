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
  // Protocol 2: the room event log, rooms and DMs, memberships with read state, message edits,
  // deletes, reactions and mentions (docs/architecture.md, "Conversations: the room event log").
  `ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'channel';      -- 'channel' | 'dm'
   ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT '';
   ALTER TABLE rooms ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'; -- 'public' | 'private'
   ALTER TABLE rooms ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE rooms ADD COLUMN created_by INTEGER REFERENCES users(id);
   ALTER TABLE rooms ADD COLUMN dm_key TEXT;              -- sorted member ids of a DM: one DM per set of people
   -- Kept by every membership change in its transaction: the public room list sorts on it, and a
   -- count(*) of a 100,000-member room per listed room would cost what the list is meant to save.
   ALTER TABLE rooms ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE rooms ADD COLUMN last_activity_at INTEGER NOT NULL DEFAULT 0;
   CREATE UNIQUE INDEX rooms_dm_key ON rooms(dm_key);      -- NULLs (channels) never collide
   CREATE INDEX rooms_public ON rooms(member_count DESC, id) WHERE kind = 'channel' AND visibility = 'public' AND archived = 0;

   CREATE TABLE members (
     room_id TEXT NOT NULL REFERENCES rooms(id),
     user_id INTEGER NOT NULL REFERENCES users(id),
     role TEXT NOT NULL,                  -- 'owner' | 'admin' | 'member'
     joined_at INTEGER NOT NULL,
     read_seq INTEGER NOT NULL,           -- messages after it are unread
     notify TEXT NOT NULL DEFAULT 'all',  -- 'all' | 'mentions' | 'none'
     PRIMARY KEY (room_id, user_id)
   ) WITHOUT ROWID;
   CREATE INDEX members_user ON members(user_id);
   CREATE INDEX members_joined ON members(room_id, joined_at, user_id);

   -- The log. References and small facts only, never message text: the text lives once, in messages.
   CREATE TABLE events (
     room_id TEXT NOT NULL REFERENCES rooms(id),
     seq INTEGER NOT NULL,
     kind TEXT NOT NULL,
     actor_id INTEGER,
     client_id TEXT,                      -- the actor's idempotency key
     created_at INTEGER NOT NULL,
     message_id INTEGER,
     user_id INTEGER,
     data TEXT NOT NULL DEFAULT '{}',     -- JSON
     PRIMARY KEY (room_id, seq)
   ) WITHOUT ROWID;
   CREATE UNIQUE INDEX events_idempotency ON events(actor_id, client_id) WHERE client_id IS NOT NULL;

   ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 0;   -- seq of the last event that changed it
   ALTER TABLE messages ADD COLUMN edited_at INTEGER;
   ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
   -- Unread counts scan this and nothing else: the messages after a read position, not deleted, by
   -- author (deleted_at is a column too, or SQLite would read each row to check the condition).
   CREATE INDEX messages_unread ON messages(room_id, seq, author_id, deleted_at) WHERE deleted_at IS NULL;

   -- id keeps the order people reacted in (and so the order each emoji was first used).
   CREATE TABLE reactions (
     id INTEGER PRIMARY KEY,
     message_id INTEGER NOT NULL REFERENCES messages(id),
     emoji TEXT NOT NULL,
     user_id INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     UNIQUE (message_id, emoji, user_id)
   );

   -- Who a message mentions, keyed for "mentions of user U in room R after seq S".
   CREATE TABLE mentions (
     room_id TEXT NOT NULL,
     user_id INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     message_id INTEGER NOT NULL REFERENCES messages(id),
     PRIMARY KEY (room_id, user_id, seq)
   ) WITHOUT ROWID;
   CREATE INDEX mentions_message ON mentions(message_id, user_id);

   -- Existing databases. Every room was public and everyone was in every room (in practice only
   -- general existed): they stay public channels and everyone becomes a member. Read positions
   -- start at the newest message: protocol 1 kept no read state, and counting a whole history as
   -- unread would give every user a meaningless "999+" badge on upgrade.
   UPDATE messages SET version = seq;
   INSERT INTO events (room_id, seq, kind, actor_id, client_id, created_at, message_id, user_id, data)
     SELECT room_id, seq, 'message_created', author_id, client_id, created_at, id, NULL, '{}' FROM messages;
   INSERT INTO members (room_id, user_id, role, joined_at, read_seq, notify)
     SELECT r.id, u.id, 'member', max(u.created_at, r.created_at), r.last_seq, 'all' FROM rooms r CROSS JOIN users u;
   UPDATE rooms SET
     member_count = (SELECT count(*) FROM members WHERE room_id = rooms.id),
     last_activity_at = coalesce((SELECT created_at FROM messages WHERE room_id = rooms.id ORDER BY seq DESC LIMIT 1), created_at);`,
  // Notification levels: unset means the room kind's default (DEFAULT_NOTIFY: DMs all, channels
  // mentions). `notify` could not tell a choice from its default 'all', so it is kept, unread, and
  // the choice moves to a nullable column. A stored 'all' becomes unset: in a channel it notified
  // only mentions until now, which is what the new default does, so nobody's notifications change.
  `ALTER TABLE members ADD COLUMN notify_level TEXT;   -- 'all' | 'mentions' | 'none', NULL: the default
   UPDATE members SET notify_level = notify WHERE notify <> 'all';`,
  // A history page carries the membership events of its span: this reads them without stepping over
  // the message and reaction events between them. The query's WHERE repeats the same kind list, or
  // SQLite will not use a partial index.
  `CREATE INDEX events_membership ON events(room_id, seq)
     WHERE kind IN ('member_joined', 'member_invited', 'member_left', 'member_removed');`,
  // An emoji keeps its place on a message while anyone still reacts with it, as a client applying
  // the events sees it: ordered by when its run began, not by its oldest remaining reactor (who may
  // have taken theirs back while later ones stayed). Existing runs begin at their oldest row.
  `ALTER TABLE reactions ADD COLUMN run INTEGER NOT NULL DEFAULT 0;   -- id of the row that began this emoji's run
   UPDATE reactions SET run = (SELECT min(id) FROM reactions r WHERE r.message_id = reactions.message_id AND r.emoji = reactions.emoji);`,
];
