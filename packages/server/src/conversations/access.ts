import { DEFAULT_ROOM } from '@chatter/protocol';
import { AppError } from '../errors.js';
import type { ChatStore, MemberRecord, RoomRecord } from '../storage/types.js';

/**
 * What one user may do in one room: THE authorization check (docs/architecture.md, "One actions
 * layer, one authorization check"). Every REST route and WebSocket frame that names a room asks
 * `access` first; no handler looks at membership itself.
 */
export interface Access {
  room: RoomRecord;
  /** The user's membership, or null when they preview a public channel they are not in. */
  member: MemberRecord | null;
  /** History, room info, members: members, and anyone signed in for a public channel. */
  canRead: boolean;
  /** Send, edit own, react, typing: members of a room that is not archived. */
  canWrite: boolean;
  /** Rename, topic, archive, remove members, delete others' messages: the owner and admins. */
  canAdmin: boolean;
}

/**
 * The room as `userId` may see it, or null when it does not exist or they may not see it (a private
 * channel or DM they are not in): both answer 404 `room_not_found`, so ids cannot be probed.
 */
export async function access(store: ChatStore, userId: number, roomId: string): Promise<Access | null> {
  const [room, member] = await Promise.all([store.getRoom(roomId), store.getMember(roomId, userId)]);
  if (!room) return null;
  if (!member && (room.kind === 'dm' || room.visibility === 'private')) return null;
  return {
    room,
    member,
    canRead: true,
    canWrite: member !== null && !room.archived,
    canAdmin: member !== null && (member.role === 'owner' || member.role === 'admin'),
  };
}

/** `access`, throwing `room_not_found` where the room is not visible. */
export async function readable(store: ChatStore, userId: number, roomId: string): Promise<Access> {
  const a = await access(store, userId, roomId);
  if (!a) throw new AppError('room_not_found');
  return a;
}

/**
 * A member of the room, archived or not: what receiving live events, resuming and moving one's
 * read position need (an archived room stays readable to its members).
 */
export async function memberOf(store: ChatStore, userId: number, roomId: string): Promise<Access & { member: MemberRecord }> {
  const a = await readable(store, userId, roomId);
  if (!a.member) throw new AppError('not_a_member');
  return a as Access & { member: MemberRecord };
}

/** A member who may write: not archived. */
export async function writable(store: ChatStore, userId: number, roomId: string): Promise<Access & { member: MemberRecord }> {
  const a = await memberOf(store, userId, roomId);
  if (a.room.archived) throw new AppError('room_archived');
  return a;
}

/** The owner or an admin of a channel (DMs have no admins: their settings are fixed). */
export async function administrable(store: ChatStore, userId: number, roomId: string): Promise<Access & { member: MemberRecord }> {
  const a = await memberOf(store, userId, roomId);
  if (!a.canAdmin || a.room.kind === 'dm') throw new AppError('forbidden', 'Only the room\'s owner and admins can do that.');
  return a;
}

/** `general` is everyone's: it cannot be left, and nobody is removed from it. */
export function isDefaultRoom(roomId: string): boolean {
  return roomId === DEFAULT_ROOM;
}
