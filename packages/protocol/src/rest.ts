import { Type, type Static } from '@sinclair/typebox';
import { LIMITS } from './limits.js';
import { Message, RoomSummary, SelfUser } from './models.js';

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
  /** True when more messages exist in the direction asked (older for `before`, newer for `after`). */
  hasMore: Type.Boolean(),
  /**
   * The room's newest sequence when the page was read (at least every `seq` in it). An `after`
   * beyond it means the client holds messages this server does not (its database was restored
   * from an older backup, or the client talks to another server): it should drop what it holds
   * for the room and load it again.
   */
  lastSeq: Type.Integer({ description: "The room's newest sequence; an `after` beyond it means the client is ahead of the server." }),
});
export type HistoryResponse = Static<typeof HistoryResponse>;

export const RoomsResponse = Type.Object({ rooms: Type.Array(RoomSummary) });
export type RoomsResponse = Static<typeof RoomsResponse>;

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
