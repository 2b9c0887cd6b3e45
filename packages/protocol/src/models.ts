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

export const Message = Type.Object(
  {
    id: Type.Integer({ description: 'Globally unique message id.' }),
    room: Type.String(),
    /** Position in the room's log: 1, 2, 3... without gaps. */
    seq: Type.Integer(),
    author: PublicUser,
    text: Type.String(),
    /** The id the sender's client gave the message; lets the sender match its pending copy. */
    clientId: Type.String(),
    createdAt: Type.String({ description: 'ISO 8601, set by the server.' }),
  },

);
export type Message = Static<typeof Message>;

export const RoomSummary = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    /** Sequence of the newest message in the room (0 when empty). */
    lastSeq: Type.Integer(),
  },

);
export type RoomSummary = Static<typeof RoomSummary>;
