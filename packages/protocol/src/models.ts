import { Type, type Static } from '@sinclair/typebox';

export const PublicUser = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    /** URL of the profile picture, or null when the user has none. Changes when the picture changes. */
    avatarUrl: Type.Union([Type.String(), Type.Null()]),
  },

);
export type PublicUser = Static<typeof PublicUser>;

/** The signed-in user as they see themselves. */
export const SelfUser = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    avatarUrl: Type.Union([Type.String(), Type.Null()]),
    email: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ description: 'ISO 8601' }),
  },

);
export type SelfUser = Static<typeof SelfUser>;

/**
 * One emoji on a message: how many reacted with it and who. `users` lists the reactors in the order
 * they reacted, at most `LIMITS.reactionUsersListed` of them; `count` is exact.
 */
export const Reaction = Type.Object({
  emoji: Type.String(),
  count: Type.Integer(),
  users: Type.Array(Type.Integer()),
});
export type Reaction = Static<typeof Reaction>;

export const Message = Type.Object(
  {
    id: Type.Integer({ description: 'Globally unique message id.' }),
    room: Type.String(),
    /** Position of its `message_created` event in the room's log: 1, 2, 3... shared with every other event. */
    seq: Type.Integer(),
    author: PublicUser,
    /** Empty once deleted: the text is removed from storage, not hidden. */
    text: Type.String(),
    /** The id the sender's client gave the message; lets the sender match its pending copy. */
    clientId: Type.String(),
    createdAt: Type.String({ description: 'ISO 8601, set by the server.' }),
    /**
     * The seq of the last event that changed this message (created, edited, deleted, reacted). A
     * client applies an event to a message it holds only when the event's seq is greater, and takes
     * a page's copy only when its version is at least the one held: replays, repeats and pages then
     * commute (docs/architecture.md, "The room event log").
     */
    version: Type.Integer(),
    /** ISO 8601 of the last edit, or null if never edited. */
    editedAt: Type.Union([Type.String(), Type.Null()]),
    /** A tombstone: "message deleted". `text`, `mentions` and `reactions` are empty. */
    deleted: Type.Boolean(),
    /** Ids of the users its text mentions as `@username` (members or not when sent). */
    mentions: Type.Array(Type.Integer()),
    /** In the order each emoji was first used. */
    reactions: Type.Array(Reaction),
  },

);
export type Message = Static<typeof Message>;

export const RoomKind = Type.Union([Type.Literal('channel'), Type.Literal('dm')]);
export type RoomKind = Static<typeof RoomKind>;
export const RoomVisibility = Type.Union([Type.Literal('public'), Type.Literal('private')], { errorMessage: 'Use "public" or "private".' });
export type RoomVisibility = Static<typeof RoomVisibility>;
export const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
export type Role = Static<typeof Role>;
/** Which messages of a room notify the user: every one, those that mention them, or none. */
export const NotifyLevel = Type.Union([Type.Literal('all'), Type.Literal('mentions'), Type.Literal('none')], {
  errorMessage: 'Use "all", "mentions" or "none".',
});
export type NotifyLevel = Static<typeof NotifyLevel>;

/**
 * The level of a room whose member never chose one: every message of a DM (it is addressed to
 * them), only mentions in a channel (a busy channel that notified every message would be muted at
 * once, and then its mentions would be lost too). `none` is "muted": nothing notifies and the room's
 * unread count is shown muted; there is no separate mute.
 */
export const DEFAULT_NOTIFY: Readonly<Record<RoomKind, NotifyLevel>> = { dm: 'all', channel: 'mentions' };

/**
 * A room as anyone allowed to see it sees it. Channels have a name anyone in them may see; a DM's
 * `name` is '' and clients name it after its `members`. DMs are always private.
 */
export const Room = Type.Object({
  /** Opaque and permanent (`general` for the room everyone is in); the name may change. */
  id: Type.String(),
  kind: RoomKind,
  name: Type.String(),
  topic: Type.String(),
  visibility: RoomVisibility,
  /** Read-only: nobody can post, edit or react; history stays readable. */
  archived: Type.Boolean(),
  createdAt: Type.String(),
  /** The seq of the newest event in the room's log (0 when empty). */
  lastSeq: Type.Integer(),
  memberCount: Type.Integer(),
  /** For DMs, everyone in it (at most `LIMITS.dmMaxUsers`); empty for channels (see the members route). */
  members: Type.Array(PublicUser),
});
export type Room = Static<typeof Room>;

/** A room the user is in, with their own state in it. */
export const MyRoom = Type.Composite([
  Room,
  Type.Object({
    role: Role,
    /** The seq up to which the user has read; messages after it, not their own and not deleted, are unread. */
    readSeq: Type.Integer(),
    /** Unread messages, counted by the server, at most `LIMITS.unreadCountMax` (shown as "999+"). */
    unread: Type.Integer(),
    /** Unread messages that mention the user, at most `LIMITS.unreadCountMax`. */
    mentions: Type.Integer(),
    /** The level in effect: the user's choice, or `DEFAULT_NOTIFY` for the room's kind if they made none. */
    notify: NotifyLevel,
    /** ISO 8601 of the newest message (or of joining, if none since): the room list sorts on it. */
    lastActivityAt: Type.String(),
  }),
]);
export type MyRoom = Static<typeof MyRoom>;

export const Member = Type.Object({
  user: PublicUser,
  role: Role,
  joinedAt: Type.String(),
});
export type Member = Static<typeof Member>;
