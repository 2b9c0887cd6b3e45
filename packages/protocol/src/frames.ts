import { Type, type Static } from '@sinclair/typebox';
import { LIMITS } from './limits.js';
import { MembershipEvent, RoomEvent } from './events.js';
import { Message, MyRoom, NotifyLevel, PublicUser, SelfUser } from './models.js';

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

/**
 * The client's id for a change it asks for: a retried request with the same id happens once, and
 * is answered with the first answer (`duplicate: true`). Unique per user, across every kind of change.
 */
const ClientId = Type.String({ pattern: LIMITS.clientIdPattern, errorMessage: 'Use 1-64 letters, digits, _ or -.' });
const MessageId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, errorMessage: 'Use a message id.' });

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
    /**
     * How many recent messages to send after hello (default 50, 0 for none) for each of the user's
     * `LIMITS.initialHistoryRooms` most recently active rooms that `resume` does not name.
     */
    history: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.historyPageMax, errorMessage: `Use 0-${LIMITS.historyPageMax}.` })),
    resume: Type.Optional(ResumeState),
  },
  { additionalProperties: false },
);

export const SendFrame = Type.Object(
  {
    type: Type.Literal('send'),
    room: RoomId,
    clientId: ClientId,
    text: Type.String({ errorMessage: 'Give the message text.' }),
  },
  { additionalProperties: false },
);

/** Change the text of one's own message. */
export const EditFrame = Type.Object(
  { type: Type.Literal('edit'), room: RoomId, clientId: ClientId, messageId: MessageId, text: Type.String({ errorMessage: 'Give the new text.' }) },
  { additionalProperties: false },
);

/** Delete a message: one's own, or any as the room's owner or an admin. */
export const DeleteFrame = Type.Object(
  { type: Type.Literal('delete'), room: RoomId, clientId: ClientId, messageId: MessageId },
  { additionalProperties: false },
);

/** Add (`on: true`) or remove one's reaction with an emoji. */
export const ReactFrame = Type.Object(
  {
    type: Type.Literal('react'),
    room: RoomId,
    clientId: ClientId,
    messageId: MessageId,
    emoji: Type.String({ minLength: 1, maxLength: LIMITS.emojiMaxChars, errorMessage: 'Give one emoji.' }),
    on: Type.Boolean({ errorMessage: 'Use true to add the reaction, false to remove it.' }),
  },
  { additionalProperties: false },
);

/**
 * The user has seen the room up to `seq` (a position only ever moves forward; a lower seq is a
 * no-op). No clientId: repeating it changes nothing. Answered on every socket of the user with
 * `read_state`.
 */
export const ReadFrame = Type.Object({ type: Type.Literal('read'), room: RoomId, seq: Seq }, { additionalProperties: false });

/** The user is typing in the room. Send at most every `LIMITS.typingIntervalMs`; never stored. */
export const TypingFrame = Type.Object({ type: Type.Literal('typing'), room: RoomId }, { additionalProperties: false });

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
    /** A message id: the page around it (a message link), as `GET /api/rooms/{id}/messages?around=`. Not with `before` or `after`. */
    around: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, errorMessage: 'Use a message id.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.historyPageMax, errorMessage: `Use 1-${LIMITS.historyPageMax}.` })),
    ref: Ref,
  },
  { additionalProperties: false },
);

/**
 * Page the room's event log after `after` (what a `resume` reply with `hasMore` asks for next).
 * Answered with an `events` frame.
 */
export const EventsRequestFrame = Type.Object(
  {
    type: Type.Literal('events'),
    room: RoomId,
    after: Seq,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.eventsPageMax, errorMessage: `Use 1-${LIMITS.eventsPageMax}.` })),
    ref: Ref,
  },
  { additionalProperties: false },
);

export const PingFrame = Type.Object({ type: Type.Literal('ping'), ref: Ref }, { additionalProperties: false });

export const CLIENT_FRAMES = {
  auth: AuthFrame,
  send: SendFrame,
  edit: EditFrame,
  delete: DeleteFrame,
  react: ReactFrame,
  read: ReadFrame,
  typing: TypingFrame,
  resume: ResumeFrame,
  history: HistoryRequestFrame,
  events: EventsRequestFrame,
  ping: PingFrame,
} as const;

export type AuthFrame = Static<typeof AuthFrame>;
export type SendFrame = Static<typeof SendFrame>;
export type EditFrame = Static<typeof EditFrame>;
export type DeleteFrame = Static<typeof DeleteFrame>;
export type ReactFrame = Static<typeof ReactFrame>;
export type ReadFrame = Static<typeof ReadFrame>;
export type TypingFrame = Static<typeof TypingFrame>;
export type ResumeFrame = Static<typeof ResumeFrame>;
export type HistoryRequestFrame = Static<typeof HistoryRequestFrame>;
export type EventsRequestFrame = Static<typeof EventsRequestFrame>;
export type PingFrame = Static<typeof PingFrame>;
export type ClientFrame =
  | AuthFrame
  | SendFrame
  | EditFrame
  | DeleteFrame
  | ReactFrame
  | ReadFrame
  | TypingFrame
  | ResumeFrame
  | HistoryRequestFrame
  | EventsRequestFrame
  | PingFrame;
export type ClientFrameType = ClientFrame['type'];

// ---- Server -> client ----

export const HelloFrame = Type.Object({
  type: Type.Literal('hello'),
  protocol: Type.Integer(),
  user: SelfUser,
  /** Every room the user is in, with their read position and unread counts. */
  rooms: Type.Array(MyRoom),
  sessionExpiresAt: Type.String(),
  serverTime: Type.String(),
  limits: Type.Object({
    messageMaxChars: Type.Integer(),
    historyPageMax: Type.Integer(),
    /** Most events `resume` replays for one room; further behind, the client gets `resume_gap`. */
    resumeMaxEvents: Type.Integer(),
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

/** A new event in one of the user's rooms, live. */
export const EventFrame = Type.Object({ type: Type.Literal('event'), event: RoomEvent });

/**
 * The one answer to every change a client asks for (send, edit, delete, react, and the REST routes
 * that take an `Idempotency-Key`): it is stored, durably. A retried clientId gets the first answer
 * again with `duplicate: true`. `seq` is the event the change produced, null when it changed
 * nothing (a reaction that was already there); `messageId` and `createdAt` are set for a send.
 */
export const AckFrame = Type.Object({
  type: Type.Literal('ack'),
  clientId: Type.String(),
  room: Type.String(),
  seq: Type.Union([Type.Integer(), Type.Null()]),
  duplicate: Type.Boolean(),
  messageId: Type.Optional(Type.Integer()),
  createdAt: Type.Optional(Type.String()),
});

export const HistoryFrame = Type.Object({
  type: Type.Literal('history'),
  room: Type.String(),
  /** Oldest first, each as it is now (edited text, tombstone, reactions) with its version. */
  messages: Type.Array(Message),
  /** More messages exist in the direction asked (older for `before` and `around`, newer for `after`). */
  hasMore: Type.Boolean(),
  /** Only on an `around` page: newer messages exist after it. */
  hasNewer: Type.Optional(Type.Boolean()),
  /** The room's newest seq when the page was read: every event up to it is reflected in the page. */
  lastSeq: Type.Integer(),
  /**
   * The room's membership events in the span of the log the page covers, as in `HistoryResponse`;
   * a page cut at the byte budget covers only the messages it carries.
   */
  membership: Type.Array(MembershipEvent),
  /**
   * `initial`: recent messages after hello; `request`: answer to a history frame. A page stops
   * early at the server's reply byte budget; `hasMore` then says more exist.
   */
  reason: Type.Union([Type.Literal('initial'), Type.Literal('request')]),
  ref: Ref,
});

/**
 * A run of the room's log: every event with after < seq <= through, in order (`hidden` for those
 * the user may not see). `resume`: what was missed; `request`: answer to an `events` frame. With
 * `hasMore`, ask for the rest with `events` `after: through`.
 */
export const EventsFrame = Type.Object({
  type: Type.Literal('events'),
  room: Type.String(),
  after: Type.Integer(),
  through: Type.Integer(),
  events: Type.Array(RoomEvent),
  hasMore: Type.Boolean(),
  reason: Type.Union([Type.Literal('resume'), Type.Literal('request')]),
  ref: Ref,
});

/**
 * The client is further behind than the server replays (`LIMITS.resumeMaxEvents`): what it holds of
 * the room may be stale in ways no event will fix, so it drops it and loads the room again
 * (`history` for the newest page).
 */
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

/**
 * `user` is typing in `room`: show it for `expiresInMs` unless renewed, and stop at once when
 * their next message arrives. Only members receive it; it is never stored or replayed.
 */
export const TypingNoticeFrame = Type.Object({ type: Type.Literal('typing'), room: Type.String(), user: PublicUser, expiresInMs: Type.Integer() });

/** The user's read position or counts in a room changed (from any of their devices). */
export const ReadStateFrame = Type.Object({
  type: Type.Literal('read_state'),
  room: Type.String(),
  readSeq: Type.Integer(),
  unread: Type.Integer(),
  mentions: Type.Integer(),
  /**
   * The room's newest seq when the counts were read: they include every message up to it. The
   * frame can arrive before events it counts (a socket's own frames go out before the room's), so
   * a client counts only events after `lastSeq` on top of it.
   */
  lastSeq: Type.Integer(),
});

/**
 * The user's own settings in a room changed (today: its notification level), from any of their
 * devices. Sent to that user's sockets only; `hello` and `GET /api/rooms` carry the current value.
 */
export const MembershipUpdatedFrame = Type.Object({ type: Type.Literal('membership_updated'), room: Type.String(), notify: NotifyLevel });

/**
 * The user is now in a room (they created or joined it, were invited, or a DM was opened with
 * them). Its live events follow; its log so far can be loaded as for any room.
 */
export const RoomJoinedFrame = Type.Object({ type: Type.Literal('room_joined'), room: MyRoom });

/** The user is no longer in a room (`left` it themselves or was `removed`); nothing more of it arrives. */
export const RoomLeftFrame = Type.Object({
  type: Type.Literal('room_left'),
  room: Type.String(),
  reason: Type.Union([Type.Literal('left'), Type.Literal('removed')]),
});

export type HelloFrame = Static<typeof HelloFrame>;
export type PresenceFrame = Static<typeof PresenceFrame>;
export type PresenceCountFrame = Static<typeof PresenceCountFrame>;
export type UserJoinedFrame = Static<typeof UserJoinedFrame>;
export type UserLeftFrame = Static<typeof UserLeftFrame>;
export type EventFrame = Static<typeof EventFrame>;
export type AckFrame = Static<typeof AckFrame>;
export type HistoryFrame = Static<typeof HistoryFrame>;
export type EventsFrame = Static<typeof EventsFrame>;
export type TypingNoticeFrame = Static<typeof TypingNoticeFrame>;
export type ReadStateFrame = Static<typeof ReadStateFrame>;
export type MembershipUpdatedFrame = Static<typeof MembershipUpdatedFrame>;
export type RoomJoinedFrame = Static<typeof RoomJoinedFrame>;
export type RoomLeftFrame = Static<typeof RoomLeftFrame>;
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
  | EventFrame
  | AckFrame
  | HistoryFrame
  | EventsFrame
  | ResumeGapFrame
  | ResumeAheadFrame
  | ErrorFrame
  | PongFrame
  | UserUpdatedFrame
  | TypingNoticeFrame
  | ReadStateFrame
  | MembershipUpdatedFrame
  | RoomJoinedFrame
  | RoomLeftFrame;
export type ServerFrameType = ServerFrame['type'];

export const SERVER_FRAMES = {
  hello: HelloFrame,
  presence: PresenceFrame,
  presence_count: PresenceCountFrame,
  user_joined: UserJoinedFrame,
  user_left: UserLeftFrame,
  event: EventFrame,
  ack: AckFrame,
  history: HistoryFrame,
  events: EventsFrame,
  resume_gap: ResumeGapFrame,
  resume_ahead: ResumeAheadFrame,
  error: ErrorFrame,
  pong: PongFrame,
  user_updated: UserUpdatedFrame,
  typing: TypingNoticeFrame,
  read_state: ReadStateFrame,
  membership_updated: MembershipUpdatedFrame,
  room_joined: RoomJoinedFrame,
  room_left: RoomLeftFrame,
} as const;
