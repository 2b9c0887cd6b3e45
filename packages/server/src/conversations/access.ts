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

/** What a write needs to know of one membership; nothing here changes but by a membership or room event. */
interface Grant {
  role: MemberRecord['role'];
  /** Shared by every grant of the room: `forgetRoom` turns it off for all of them at once. */
  room: { live: boolean };
}

/**
 * `writable` for the hot paths (send, edit, react, typing), remembered per (user, room): a send
 * would otherwise read the room and the member from the store each time, for an answer that changes
 * only with a membership or room event. Only positive answers are kept (a member of a room that is
 * not archived), so a join needs no invalidation and nothing is kept for a caller who probes rooms.
 *
 * Correct because:
 * - The actions layer forgets a (user, room) when it commits a leave, removal or role change, and
 *   a whole room when it commits an archive, before it answers or publishes anything of that batch:
 *   the next frame of a removed member misses and is refused from the store.
 * - A miss that read the store before such a commit and finishes after it keeps nothing (`epoch`).
 * - A change committed on another node sharing the store reaches this one as an `access_changed`
 *   bus message, which the actions layer turns into the same `forget` / `forgetRoom`.
 * - The store re-checks membership and the archive inside the transaction that writes a message,
 *   edit or reaction, so even an entry the bus has not yet reached cannot store a non-member's
 *   change; in that window it can let a typing notice through, answer `not_a_member` instead of
 *   `room_not_found`, or let an admin demoted on another node delete someone else's message (the
 *   role is not re-checked in the transaction: the same race an uncached read just before the
 *   commit has, widened to the bus's latency).
 * - At most `maxEntries` are kept; the oldest go first (a miss costs one read, as before).
 */
export class AccessCache {
  private readonly grants = new Map<string, Grant>();
  private readonly rooms = new Map<string, { live: boolean }>();
  /** Bumped by every invalidation: a store read older than the latest one is not kept. */
  private epoch = 0;

  constructor(
    private readonly store: ChatStore,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.grants.size;
  }

  /** `writable`, without reading the store when the answer is known. Throws exactly as `writable`. */
  async writable(userId: number, roomId: string): Promise<Pick<Access, 'canAdmin'>> {
    const key = grantKey(roomId, userId);
    const known = this.grants.get(key);
    if (known?.room.live) return { canAdmin: known.role === 'owner' || known.role === 'admin' };
    const epoch = this.epoch;
    const a = await writable(this.store, userId, roomId);
    if (this.maxEntries > 0 && epoch === this.epoch) this.keep(key, roomId, a.member.role);
    return { canAdmin: a.canAdmin };
  }

  /** The user's membership of the room changed (left, removed, a new role). */
  forget(roomId: string, userId: number): void {
    this.epoch++;
    this.grants.delete(grantKey(roomId, userId));
  }

  /** The room changed for all its members (archived or restored). */
  forgetRoom(roomId: string): void {
    this.epoch++;
    const room = this.rooms.get(roomId);
    if (room) room.live = false;
    this.rooms.delete(roomId);
  }

  clear(): void {
    this.epoch++;
    for (const room of this.rooms.values()) room.live = false;
    this.rooms.clear();
    this.grants.clear();
  }

  private keep(key: string, roomId: string, role: MemberRecord['role']): void {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = { live: true };
      this.rooms.set(roomId, room);
    }
    this.grants.delete(key);
    this.grants.set(key, { role, room });
    if (this.grants.size > this.maxEntries) {
      const oldest = this.grants.keys().next().value as string;
      this.grants.delete(oldest);
    }
    // Rooms whose grants were all evicted leave their flag behind; start over rather than scan.
    if (this.rooms.size > this.maxEntries) this.clear();
  }
}

function grantKey(roomId: string, userId: number): string {
  return `${userId} ${roomId}`;
}
