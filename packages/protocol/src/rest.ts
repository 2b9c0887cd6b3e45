import { Type, type Static } from '@sinclair/typebox';
import { MembershipEvent } from './events.js';
import { LIMITS } from './limits.js';
import { Member, Message, MyRoom, NotifyLevel, PublicUser, Room, RoomVisibility, SelfUser } from './models.js';

/**
 * REST bodies. Each schema carries `errorMessage`, the sentence shown to a person when the
 * field is wrong; `validate.ts` turns schema failures into `{fields: {name: errorMessage}}`.
 */

const Username = Type.String({
  minLength: LIMITS.usernameMin,
  maxLength: LIMITS.usernameMax,
  pattern: LIMITS.usernamePattern,
  errorMessage: `Use ${LIMITS.usernameMin}-${LIMITS.usernameMax} characters: letters, digits, _ . or -.`,
});

const Password = Type.String({
  minLength: LIMITS.passwordMin,
  maxLength: LIMITS.passwordMax,
  errorMessage: `Use ${LIMITS.passwordMin}-${LIMITS.passwordMax} characters.`,
});

const Email = Type.String({
  maxLength: LIMITS.emailMax,
  // Deliberately loose: one @, something on each side, a dot in the domain, no spaces.
  pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$',
  errorMessage: 'Enter a valid email address.',
});

/**
 * How the client wants its session: `token` returns the bearer token in the body (SDK, terminal
 * client); `cookie` sets an HttpOnly cookie and leaves the token out of the body (web app).
 */
export const SessionMode = Type.Union([Type.Literal('token'), Type.Literal('cookie')], {
  errorMessage: 'Use "token" or "cookie".',
});
export type SessionMode = Static<typeof SessionMode>;

export const RegisterBody = Type.Object(
  {
    username: Username,
    password: Password,
    email: Type.Optional(Type.Union([Email, Type.Null()], { errorMessage: 'Enter a valid email address.' })),
    /** Also sign in, as `POST /api/login` would. Without it, registering creates no session. */
    session: Type.Optional(SessionMode),
  },
  { additionalProperties: false },
);
export type RegisterBody = Static<typeof RegisterBody>;

export const LoginBody = Type.Object(
  {
    /** Username or email. */
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 254, errorMessage: 'Enter your username.' })),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 254, errorMessage: 'Enter your email.' })),
    password: Type.String({ minLength: 1, maxLength: LIMITS.passwordMax, errorMessage: 'Enter your password.' }),
    session: Type.Optional(SessionMode),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBody>;

export const ChangePasswordBody = Type.Object(
  {
    currentPassword: Type.String({ minLength: 1, maxLength: LIMITS.passwordMax, errorMessage: 'Enter your current password.' }),
    newPassword: Password,
  },
  { additionalProperties: false },
);
export type ChangePasswordBody = Static<typeof ChangePasswordBody>;

export const SessionInfo = Type.Object({
  /** Present only when the session mode is `token`. */
  token: Type.Optional(Type.String()),
  expiresAt: Type.String({ description: 'ISO 8601. Sliding: each use pushes it out again.' }),
});
export type SessionInfo = Static<typeof SessionInfo>;

export const AuthResponse = Type.Object({
  user: SelfUser,
  token: Type.Optional(Type.String({ description: 'Bearer token; only in `token` session mode.' })),
  expiresAt: Type.String(),
});
export type AuthResponse = Static<typeof AuthResponse>;

export const RegisterResponse = Type.Object({
  user: SelfUser,
  token: Type.Optional(Type.String()),
  expiresAt: Type.Optional(Type.String()),
});
export type RegisterResponse = Static<typeof RegisterResponse>;

export const MeResponse = Type.Object({
  user: SelfUser,
  session: Type.Object({ expiresAt: Type.String() }),
});
export type MeResponse = Static<typeof MeResponse>;

/**
 * Past 2^53 - 1 a JSON or query number is no longer the integer written (99999999999999999999 reads
 * as 1e20, and its neighbours read the same), so a sequence beyond it is refused, not rounded.
 */
const SeqParam = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, errorMessage: `Use a whole number, 0-${Number.MAX_SAFE_INTEGER}.` });

export const HistoryQuery = Type.Object(
  {
    before: Type.Optional(SeqParam),
    after: Type.Optional(SeqParam),
    /**
     * A message id: the page around it (a message link), the message itself, older ones before it
     * and newer ones after it. Not with `before` or `after`.
     */
    around: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, errorMessage: 'Use a message id.' })),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: LIMITS.historyPageMax, errorMessage: `Use 1-${LIMITS.historyPageMax}.` }),
    ),
  },
  { additionalProperties: false },
);
export type HistoryQuery = Static<typeof HistoryQuery>;

export const HistoryResponse = Type.Object({
  room: Type.String(),
  /** Oldest first. */
  messages: Type.Array(Message),
  /** True when more messages exist in the direction asked (older for `before` and `around`, newer for `after`). */
  hasMore: Type.Boolean(),
  /** Only on an `around` page: newer messages exist after it (the page does not reach the room's end). */
  hasNewer: Type.Optional(Type.Boolean({ description: 'Only on an `around` page: newer messages exist after it.' })),
  /**
   * The room's newest sequence when the page was read: every event up to it is reflected in the page (at least every `seq` in it). An `after`
   * beyond it means the client holds messages this server does not (its database was restored
   * from an older backup, or the client talks to another server): it should drop what it holds
   * for the room and load it again.
   */
  lastSeq: Type.Integer({ description: "The room's newest sequence; an `after` beyond it means the client is ahead of the server." }),
  /**
   * The room's membership events (joined, invited, left, removed) whose seq lies in the span of the
   * log the page covers: from its oldest message (from the room's start when `hasMore` is false) up
   * to the cursor (`before`), or to `lastSeq` for the newest page; for an `after` page, from the
   * cursor to its newest message (to `lastSeq` when `hasMore` is false). Oldest first; at most as
   * many as the page's `limit`, the newest kept (a run of them shows as one line anyway). The
   * members the room was created with are part of its creation, not joins, and are left out.
   */
  membership: Type.Array(MembershipEvent, {
    description: "The room's membership events in the span of the log the page covers, oldest first; at most `limit`, the newest kept.",
  }),
});
export type HistoryResponse = Static<typeof HistoryResponse>;

/** `GET /api/rooms`: the rooms the user is in, most recently active first. */
export const MyRoomsResponse = Type.Object({ rooms: Type.Array(MyRoom) });
export type MyRoomsResponse = Static<typeof MyRoomsResponse>;

/** `GET /api/rooms/public`: public channels, most members first, with whether the user is in each. */
export const PublicRoomsResponse = Type.Object({ rooms: Type.Array(Type.Composite([Room, Type.Object({ joined: Type.Boolean() })])) });
export type PublicRoomsResponse = Static<typeof PublicRoomsResponse>;

export const PublicRoomsQuery = Type.Object(
  {
    /** Only rooms whose name starts with this (case-insensitive). */
    q: Type.Optional(Type.String({ maxLength: LIMITS.roomNameMax, errorMessage: `Use at most ${LIMITS.roomNameMax} characters.` })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, errorMessage: 'Use 1-100.' })),
  },
  { additionalProperties: false },
);
export type PublicRoomsQuery = Static<typeof PublicRoomsQuery>;

/**
 * `GET /api/rooms/{id}`, and the answer to creating, joining, opening or changing a room: the room,
 * with the user's own state in it when they are a member (`membership` null when previewing a
 * public room they are not in).
 */
export const RoomResponse = Type.Object({
  room: Room,
  membership: Type.Union([
    Type.Object({ role: MyRoom.properties.role, readSeq: Type.Integer(), unread: Type.Integer(), mentions: Type.Integer(), notify: NotifyLevel }),
    Type.Null(),
  ]),
});
export type RoomResponse = Static<typeof RoomResponse>;

const RoomName = Type.String({ minLength: 1, maxLength: LIMITS.roomNameMax, errorMessage: `Use 1-${LIMITS.roomNameMax} characters.` });
const RoomTopic = Type.String({ maxLength: LIMITS.roomTopicMax, errorMessage: `Use at most ${LIMITS.roomTopicMax} characters.` });
const UserId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, errorMessage: 'Use a user id.' });

export const CreateRoomBody = Type.Object(
  { name: RoomName, topic: Type.Optional(RoomTopic), visibility: RoomVisibility },
  { additionalProperties: false },
);
export type CreateRoomBody = Static<typeof CreateRoomBody>;

/** Owners and admins only. A DM has no name or topic. */
export const UpdateRoomBody = Type.Object(
  { name: Type.Optional(RoomName), topic: Type.Optional(RoomTopic), archived: Type.Optional(Type.Boolean({ errorMessage: 'Use true or false.' })) },
  { additionalProperties: false, minProperties: 1, errorMessage: 'Give name, topic or archived.' },
);
export type UpdateRoomBody = Static<typeof UpdateRoomBody>;

/** The user's own settings in a room. */
export const UpdateMembershipBody = Type.Object({ notify: NotifyLevel }, { additionalProperties: false });
export type UpdateMembershipBody = Static<typeof UpdateMembershipBody>;

export const AddMemberBody = Type.Object({ userId: UserId }, { additionalProperties: false });
export type AddMemberBody = Static<typeof AddMemberBody>;

/** The owner makes a member an admin, or an admin a member again (a room has one owner). */
export const UpdateMemberBody = Type.Object(
  { role: Type.Union([Type.Literal('admin'), Type.Literal('member')], { errorMessage: 'Use "admin" or "member".' }) },
  { additionalProperties: false },
);
export type UpdateMemberBody = Static<typeof UpdateMemberBody>;

export const OpenDmBody = Type.Object(
  {
    /** The other people (the user who opens it is always in it). The same set always opens the same DM. */
    userIds: Type.Array(UserId, {
      minItems: 1,
      maxItems: LIMITS.dmMaxUsers - 1,
      uniqueItems: true,
      errorMessage: `Name 1-${LIMITS.dmMaxUsers - 1} other users, each once.`,
    }),
  },
  { additionalProperties: false },
);
export type OpenDmBody = Static<typeof OpenDmBody>;

export const RoomIdParams = Type.Object(
  { id: Type.String({ pattern: LIMITS.roomIdPattern, errorMessage: 'Not a valid room id.' }) },
  { additionalProperties: false },
);
export type RoomIdParams = Static<typeof RoomIdParams>;

export const MemberParams = Type.Object(
  { id: RoomIdParams.properties.id, userId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, errorMessage: 'Use a user id.' }) },
  { additionalProperties: false },
);
export type MemberParams = Static<typeof MemberParams>;

export const MessageParams = Type.Object(
  { id: RoomIdParams.properties.id, messageId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, errorMessage: 'Use a message id.' }) },
  { additionalProperties: false },
);
export type MessageParams = Static<typeof MessageParams>;

export const ReactionParams = Type.Object(
  {
    id: RoomIdParams.properties.id,
    messageId: MessageParams.properties.messageId,
    emoji: Type.String({ minLength: 1, maxLength: LIMITS.emojiMaxChars, errorMessage: 'Give one emoji (URL-encoded).' }),
  },
  { additionalProperties: false },
);
export type ReactionParams = Static<typeof ReactionParams>;

export const EditMessageBody = Type.Object({ text: Type.String({ errorMessage: 'Give the new text.' }) }, { additionalProperties: false });
export type EditMessageBody = Static<typeof EditMessageBody>;

export const ReadBody = Type.Object(
  { seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, errorMessage: 'Use a seq of the room.' }) },
  { additionalProperties: false },
);
export type ReadBody = Static<typeof ReadBody>;

/** `lastSeq`: the room's newest seq when the counts were read (they include every message up to it). */
export const ReadResponse = Type.Object({ room: Type.String(), readSeq: Type.Integer(), unread: Type.Integer(), mentions: Type.Integer(), lastSeq: Type.Integer() });
export type ReadResponse = Static<typeof ReadResponse>;

/**
 * `lastSeq`: the room's newest seq when the list was read (read before it). Membership events after
 * it may or may not be reflected; applying them again on top of the list gives the current members.
 */
export const MembersResponse = Type.Object({ members: Type.Array(Member), lastSeq: Type.Integer() });
export type MembersResponse = Static<typeof MembersResponse>;

export const UserSearchQuery = Type.Object(
  {
    /** Usernames starting with this, case-insensitive. */
    q: Type.String({ minLength: 1, maxLength: LIMITS.usernameMax, errorMessage: `Use 1-${LIMITS.usernameMax} characters.` }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.userSearchMax, errorMessage: `Use 1-${LIMITS.userSearchMax}.` })),
  },
  { additionalProperties: false },
);
export type UserSearchQuery = Static<typeof UserSearchQuery>;

export const UsersResponse = Type.Object({ users: Type.Array(PublicUser) });
export type UsersResponse = Static<typeof UsersResponse>;

/**
 * The answer to a change made over REST (edit, delete, react, membership): like the WebSocket
 * `ack`, `seq` is the event it produced (null when nothing changed) and `duplicate` says a request
 * with this `Idempotency-Key` was already carried out.
 */
export const ChangeResponse = Type.Object({ room: Type.String(), seq: Type.Union([Type.Integer(), Type.Null()]), duplicate: Type.Boolean() });
export type ChangeResponse = Static<typeof ChangeResponse>;

/** `PATCH /api/rooms/{id}/messages/{messageId}`: the message as it is after the edit. */
export const MessageResponse = Type.Object({ message: Message, seq: Type.Union([Type.Integer(), Type.Null()]), duplicate: Type.Boolean() });
export type MessageResponse = Static<typeof MessageResponse>;

export const HealthResponse = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String(),
  protocol: Type.Integer(),
  uptimeSeconds: Type.Number(),
});
export type HealthResponse = Static<typeof HealthResponse>;

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },

);

/** Answer to `PUT /api/me/avatar` and `DELETE /api/me/avatar`: the user with their new `avatarUrl`. */
export const AvatarResponse = Type.Object({ user: SelfUser });
export type AvatarResponse = Static<typeof AvatarResponse>;

/** One of the signed-in user's sessions, as `GET /api/me/sessions` lists it. */
export const SessionSummary = Type.Object({
  id: Type.Integer({ description: 'Pass to `DELETE /api/me/sessions/:id` to revoke it.' }),
  current: Type.Boolean({ description: 'The session this request was made with.' }),
  createdAt: Type.String({ description: 'ISO 8601: when it signed in.' }),
  lastSeenAt: Type.String({ description: 'ISO 8601: its last use, recorded at most hourly.' }),
  expiresAt: Type.String({ description: 'ISO 8601: when it ends unless used again (never past the absolute maximum).' }),
  device: Type.String({ description: 'A short summary of the client that signed in, such as "Chrome on Linux".' }),
});
export type SessionSummary = Static<typeof SessionSummary>;

export const SessionsResponse = Type.Object({
  /** Most recently seen first. */
  sessions: Type.Array(SessionSummary),
});
export type SessionsResponse = Static<typeof SessionsResponse>;

export const SessionIdParams = Type.Object(
  { id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, errorMessage: 'Use a session id from GET /api/me/sessions.' }) },
  { additionalProperties: false },
);
export type SessionIdParams = Static<typeof SessionIdParams>;
