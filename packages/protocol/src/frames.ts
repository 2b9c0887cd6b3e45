import { Type, type Static } from '@sinclair/typebox';
import { LIMITS } from './limits.js';
import { Message, PublicUser, RoomSummary, SelfUser } from './models.js';

/*
 * WebSocket frames at /ws. Every frame is a JSON object with a `type`. The server may coalesce
 * several frames into one WebSocket message, separated by "\n" (JSON never contains a raw
 * newline), so clients must split with `decodeServerMessage`. Clients send one frame per message.
 */

const RoomId = Type.String({ pattern: LIMITS.roomIdPattern, errorMessage: 'Not a valid room id.' });
/** Past 2^53 a JSON number is no longer exact: such a seq would name some other message. */
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, errorMessage: `Use a whole number 0-${Number.MAX_SAFE_INTEGER}.` });
/** Echoed back on the reply or error, so a client can match them to its request. */
const Ref = Type.Optional(Type.String({ maxLength: 64, errorMessage: 'Use at most 64 characters.' }));

/** Last sequence the client holds, per room; the server replays everything after it. */
export const ResumeState = Type.Record(RoomId, Seq, {
  maxProperties: LIMITS.resumeRoomsMax,
  errorMessage: `Map at most ${LIMITS.resumeRoomsMax} room ids to sequence numbers.`,
});
export type ResumeState = Static<typeof ResumeState>;

// ---- Client -> server ----

export const AuthFrame = Type.Object(
  {
    type: Type.Literal('auth'),
    token: Type.String({ minLength: 1, maxLength: 256, errorMessage: 'Give the session token.' }),
    /** How many recent messages of `general` to send after hello (default 50, 0 for none). */
    history: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.historyPageMax, errorMessage: `Use 0-${LIMITS.historyPageMax}.` })),
    resume: Type.Optional(ResumeState),
  },
  { additionalProperties: false },
);

export const SendFrame = Type.Object(
  {
    type: Type.Literal('send'),
    room: RoomId,
    clientId: Type.String({ pattern: LIMITS.clientIdPattern, errorMessage: 'Use 1-64 letters, digits, _ or -.' }),
    text: Type.String({ errorMessage: 'Give the message text.' }),
  },
  { additionalProperties: false },
);

export const ResumeFrame = Type.Object(
  { type: Type.Literal('resume'), rooms: ResumeState },
  { additionalProperties: false },
);

export const HistoryRequestFrame = Type.Object(
  {
    type: Type.Literal('history'),
    room: RoomId,
    before: Type.Optional(Seq),
    after: Type.Optional(Seq),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.historyPageMax, errorMessage: `Use 1-${LIMITS.historyPageMax}.` })),
    ref: Ref,
  },
  { additionalProperties: false },
);

export const PingFrame = Type.Object({ type: Type.Literal('ping'), ref: Ref }, { additionalProperties: false });

export const CLIENT_FRAMES = {
  auth: AuthFrame,
  send: SendFrame,
  resume: ResumeFrame,
  history: HistoryRequestFrame,
  ping: PingFrame,
} as const;

export type AuthFrame = Static<typeof AuthFrame>;
export type SendFrame = Static<typeof SendFrame>;
export type ResumeFrame = Static<typeof ResumeFrame>;
export type HistoryRequestFrame = Static<typeof HistoryRequestFrame>;
export type PingFrame = Static<typeof PingFrame>;
export type ClientFrame = AuthFrame | SendFrame | ResumeFrame | HistoryRequestFrame | PingFrame;
export type ClientFrameType = ClientFrame['type'];

// ---- Server -> client ----

export const HelloFrame = Type.Object({
  type: Type.Literal('hello'),
  protocol: Type.Integer(),
  user: SelfUser,
  rooms: Type.Array(RoomSummary),
  sessionExpiresAt: Type.String(),
  serverTime: Type.String(),
  limits: Type.Object({
    messageMaxChars: Type.Integer(),
    historyPageMax: Type.Integer(),
    resumeMaxMessages: Type.Integer(),
    /** Messages a user may send per second, sustained, over all their connections to one server. */
    messagesPerSecond: Type.Number(),
    /** Largest inbound frame, in bytes. */
    maxFrameBytes: Type.Integer(),
  }),
});

/**
 * Who is online in a room: sent on connect, and to the whole room when it shrinks back to
 * `LIMITS.presenceListMax` or fewer. `count` is exact; `users` lists everyone when `count` is at most
 * `presenceListMax`, else that many of them. Later changes come as user_joined/user_left (small rooms)
 * or presence_count (large rooms).
 */
export const PresenceFrame = Type.Object({ type: Type.Literal('presence'), room: Type.String(), users: Type.Array(PublicUser), count: Type.Integer() });
/** In a room with more than `LIMITS.presenceListMax` online: the new number online (arrivals and departures are not listed). */
export const PresenceCountFrame = Type.Object({ type: Type.Literal('presence_count'), room: Type.String(), count: Type.Integer() });
/** A user's first connection opened (they came online). Not sent for their second tab. */
export const UserJoinedFrame = Type.Object({ type: Type.Literal('user_joined'), room: Type.String(), user: PublicUser, at: Type.String() });
/** A user's last connection closed (they went offline). */
export const UserLeftFrame = Type.Object({ type: Type.Literal('user_left'), room: Type.String(), user: PublicUser, at: Type.String() });

export const MessageFrame = Type.Object({ type: Type.Literal('message'), message: Message });

/** The message is stored (durably) under `seq`. A resent clientId gets the original ack, `duplicate: true`. */
export const AckFrame = Type.Object({
  type: Type.Literal('ack'),
  clientId: Type.String(),
  room: Type.String(),
  id: Type.Integer(),
  seq: Type.Integer(),
  createdAt: Type.String(),
  duplicate: Type.Boolean(),
});

export const HistoryFrame = Type.Object({
  type: Type.Literal('history'),
  room: Type.String(),
  /** Oldest first. */
  messages: Type.Array(Message),
  hasMore: Type.Boolean(),
  /**
   * `initial`: recent messages after hello; `resume`: what was missed; `request`: answer to a history
   * frame. A page stops early at the server's reply byte budget; `hasMore` then says more exist.
   */
  reason: Type.Union([Type.Literal('initial'), Type.Literal('resume'), Type.Literal('request')]),
  ref: Ref,
});

/** The client is further behind than the server replays; page history from `afterSeq` instead. */
export const ResumeGapFrame = Type.Object({
  type: Type.Literal('resume_gap'),
  room: Type.String(),
  afterSeq: Type.Integer(),
  latestSeq: Type.Integer(),
});

/**
 * The client holds a sequence the room has not reached: its state belongs to another server or an
 * older database. Drop what you hold of the room and load its recent history again.
 */
export const ResumeAheadFrame = Type.Object({
  type: Type.Literal('resume_ahead'),
  room: Type.String(),
  afterSeq: Type.Integer(),
  latestSeq: Type.Integer(),
});

export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: Type.String(),
  message: Type.String(),
  /** The request's `ref`, or the `clientId` of a rejected send. */
  ref: Type.Optional(Type.String()),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

export const PongFrame = Type.Object({ type: Type.Literal('pong'), ref: Ref, serverTime: Type.String() });

/** A user's public profile changed (today: their picture). Sent to every room they are in. */
export const UserUpdatedFrame = Type.Object({ type: Type.Literal('user_updated'), user: PublicUser });

export type HelloFrame = Static<typeof HelloFrame>;
export type PresenceFrame = Static<typeof PresenceFrame>;
export type PresenceCountFrame = Static<typeof PresenceCountFrame>;
export type UserJoinedFrame = Static<typeof UserJoinedFrame>;
export type UserLeftFrame = Static<typeof UserLeftFrame>;
export type MessageFrame = Static<typeof MessageFrame>;
export type AckFrame = Static<typeof AckFrame>;
export type HistoryFrame = Static<typeof HistoryFrame>;
export type ResumeGapFrame = Static<typeof ResumeGapFrame>;
export type ResumeAheadFrame = Static<typeof ResumeAheadFrame>;
export type ErrorFrame = Static<typeof ErrorFrame>;
export type PongFrame = Static<typeof PongFrame>;
export type UserUpdatedFrame = Static<typeof UserUpdatedFrame>;

export type ServerFrame =
  | HelloFrame
  | PresenceFrame
  | PresenceCountFrame
  | UserJoinedFrame
  | UserLeftFrame
  | MessageFrame
  | AckFrame
  | HistoryFrame
  | ResumeGapFrame
  | ResumeAheadFrame
  | ErrorFrame
  | PongFrame
  | UserUpdatedFrame;
export type ServerFrameType = ServerFrame['type'];

export const SERVER_FRAMES = {
  hello: HelloFrame,
  presence: PresenceFrame,
  presence_count: PresenceCountFrame,
  user_joined: UserJoinedFrame,
  user_left: UserLeftFrame,
  message: MessageFrame,
  ack: AckFrame,
  history: HistoryFrame,
  resume_gap: ResumeGapFrame,
  resume_ahead: ResumeAheadFrame,
  error: ErrorFrame,
  pong: PongFrame,
  user_updated: UserUpdatedFrame,
} as const;
