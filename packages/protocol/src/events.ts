import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Message, PublicUser, Role, RoomKind, RoomVisibility } from './models.js';

/*
 * The room event log. Every change to what a room shows is one event with the room's next seq;
 * live clients receive each as an `event` frame, and `resume` replays them in order (an `events`
 * reply). docs/architecture.md ("The room event log") explains the rules, which in short are:
 *
 * - A client applies an event for a message only when the event's `seq` is greater than the
 *   `version` of the copy it holds, and then sets that version to the event's seq. Pages carry
 *   each message's version, so events and pages commute and a repeat changes nothing.
 * - Events do not carry what was since removed: a replayed `message_created` or `message_edited`
 *   carries the message's text as it is *now* (a deleted message's text is gone from storage), and
 *   a replayed `message_created` carries no reactions (the reaction events that follow add them).
 *   State is exact at the end of the replay, not in the middle of it.
 * - `hidden` stands for an event this recipient may not see; it keeps the seqs contiguous, so a
 *   missing seq on the wire always means a lost event (none are hidden today).
 */

function event<K extends string, P extends Record<string, TSchema>>(kind: K, payload: P) {
  return Type.Object({
    kind: Type.Literal(kind),
    room: Type.String(),
    /** This event's place in the room's log. */
    seq: Type.Integer(),
    /** ISO 8601, when the event happened. */
    at: Type.String(),
    /** Who caused it (the author, the admin who removed someone), or null for the server. */
    actorId: Type.Union([Type.Integer(), Type.Null()]),
    ...payload,
  });
}

/** The body of a message as it is now (text, edit time, tombstone, mentions), without its reactions. */
export const MessageBody = Type.Object({
  id: Type.Integer(),
  /** The seq of the message's `message_created` event (its place in the timeline). */
  seq: Type.Integer(),
  authorId: Type.Integer(),
  text: Type.String(),
  editedAt: Type.Union([Type.String(), Type.Null()]),
  deleted: Type.Boolean(),
  mentions: Type.Array(Type.Integer()),
});
export type MessageBody = Static<typeof MessageBody>;

export const MessageCreatedEvent = event('message_created', { message: Message });
/** Live: the new body. Replayed: the body as it is now (which may be deleted). */
export const MessageEditedEvent = event('message_edited', { message: MessageBody });
/** The body is a tombstone; the message's reactions are gone with its text. */
export const MessageDeletedEvent = event('message_deleted', { message: MessageBody });
/** `count` is the emoji's count on the message right after this event. */
export const ReactionAddedEvent = event('reaction_added', { messageId: Type.Integer(), messageSeq: Type.Integer(), emoji: Type.String(), userId: Type.Integer(), count: Type.Integer() });
export const ReactionRemovedEvent = event('reaction_removed', { messageId: Type.Integer(), messageSeq: Type.Integer(), emoji: Type.String(), userId: Type.Integer(), count: Type.Integer() });
/** Joined a public room by themselves (or was placed in `general` on registration). */
export const MemberJoinedEvent = event('member_joined', { user: PublicUser, role: Role });
/** Added by `actorId` (an invitation to a private room, or the people of a new DM). */
export const MemberInvitedEvent = event('member_invited', { user: PublicUser, role: Role });
export const MemberLeftEvent = event('member_left', { user: PublicUser });
/** Removed by `actorId`, an owner or admin. */
export const MemberRemovedEvent = event('member_removed', { user: PublicUser });
export const MemberRoleChangedEvent = event('member_role_changed', { user: PublicUser, role: Role });
export const RoomCreatedEvent = event('room_created', {
  info: Type.Object({ kind: RoomKind, name: Type.String(), topic: Type.String(), visibility: RoomVisibility }),
});
export const RoomRenamedEvent = event('room_renamed', { name: Type.String() });
export const RoomTopicChangedEvent = event('room_topic_changed', { topic: Type.String() });
export const RoomArchivedEvent = event('room_archived', { archived: Type.Boolean() });
/** An event this recipient may not see: it only holds the seq. */
export const HiddenEvent = event('hidden', {});

export const RoomEvent = Type.Union([
  MessageCreatedEvent,
  MessageEditedEvent,
  MessageDeletedEvent,
  ReactionAddedEvent,
  ReactionRemovedEvent,
  MemberJoinedEvent,
  MemberInvitedEvent,
  MemberLeftEvent,
  MemberRemovedEvent,
  MemberRoleChangedEvent,
  RoomCreatedEvent,
  RoomRenamedEvent,
  RoomTopicChangedEvent,
  RoomArchivedEvent,
  HiddenEvent,
]);
export type RoomEvent = Static<typeof RoomEvent>;
export type RoomEventKind = RoomEvent['kind'];
export type RoomEventOf<K extends RoomEventKind> = Extract<RoomEvent, { kind: K }>;

/** Membership kinds: the timeline folds runs of them into one line ("Ana, Bo and 12 others joined"). */
export const MEMBERSHIP_EVENT_KINDS = ['member_joined', 'member_invited', 'member_left', 'member_removed'] as const satisfies readonly RoomEventKind[];

/** An event of one of the `MEMBERSHIP_EVENT_KINDS`: what a history page carries besides its messages. */
export const MembershipEvent = Type.Union([MemberJoinedEvent, MemberInvitedEvent, MemberLeftEvent, MemberRemovedEvent]);
export type MembershipEvent = Static<typeof MembershipEvent>;
