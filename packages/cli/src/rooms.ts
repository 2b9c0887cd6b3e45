import { ChatterApiError, type ChatterApi } from '@chatter/client';
import type { MyRoom, PublicUser, Room } from '@chatter/protocol';

/**
 * Naming rooms for a person: channels by `#name`, DMs by their other people. Ids are opaque
 * (`general`, or 12 random letters), so commands accept either a name or an id.
 */

/** What a room is called on screen: `#name` for a channel, `@bob, carol` for a DM. */
export function roomLabel(room: Pick<Room, 'kind' | 'name' | 'members'>, selfId?: number): string {
  if (room.kind === 'dm') {
    const others = room.members.filter((m) => m.id !== selfId).map((m) => m.username);
    return `@${(others.length ? others : room.members.map((m) => m.username)).sort((a, b) => a.localeCompare(b)).join(', ')}`;
  }
  return `#${room.name}`;
}

/** The order rooms are numbered in (Alt+1..9, /rooms): channels by name, then DMs. Stable while messages arrive. */
export function orderRooms<T extends Pick<Room, 'id' | 'kind' | 'name' | 'members'>>(rooms: readonly T[], selfId?: number): T[] {
  const key = (r: T) => `${r.kind === 'dm' ? 1 : 0}${roomLabel(r, selfId).toLowerCase()}\u0000${r.id}`;
  return [...rooms].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Reads `#dev`, `dev`, `Dev Team` or an id. */
function normalizeRef(ref: string): string {
  return ref.trim().replace(/^#/, '').toLowerCase();
}

export type RoomMatch = { kind: 'one'; room: MyRoom } | { kind: 'none' } | { kind: 'many'; rooms: MyRoom[] };

/** A room of the user's own by id or name (case-insensitive); a DM by `@name[, name]`. */
export function findMyRoom(rooms: readonly MyRoom[], ref: string, selfId?: number): RoomMatch {
  const wanted = normalizeRef(ref);
  const byId = rooms.find((r) => r.id === ref.trim() || r.id === wanted);
  if (byId) return { kind: 'one', room: byId };
  const byName = rooms.filter((r) => (r.kind === 'channel' ? r.name.toLowerCase() === wanted : roomLabel(r, selfId).toLowerCase() === ref.trim().toLowerCase()));
  if (byName.length === 1) return { kind: 'one', room: byName[0]! };
  return byName.length === 0 ? { kind: 'none' } : { kind: 'many', rooms: byName };
}

/** A public channel by id or exact name (case-insensitive), or null. */
export async function findPublicRoom(api: ChatterApi, ref: string): Promise<(Room & { joined: boolean }) | null> {
  const wanted = normalizeRef(ref);
  if (!wanted) return null;
  const { rooms } = await api.publicRooms({ q: wanted.slice(0, 80), limit: 100 });
  const hit = rooms.find((r) => r.id === wanted) ?? rooms.find((r) => r.name.toLowerCase() === wanted);
  if (hit) return hit;
  // An id of a public room whose name does not start with it.
  try {
    const { room, membership } = await api.room(ref.trim().replace(/^#/, ''));
    if (room.kind === 'channel' && room.visibility === 'public') return { ...room, joined: membership !== null };
  } catch (error) {
    if (!(error instanceof ChatterApiError) || (error.status !== 404 && error.status !== 400)) throw error;
  }
  return null;
}

/** Users by exact username (case-insensitive), in the order given. Throws a sentence for a name that is nobody's. */
export async function findUsers(api: ChatterApi, names: readonly string[]): Promise<PublicUser[]> {
  const users: PublicUser[] = [];
  for (const raw of names) {
    const name = raw.replace(/^@/, '').replace(/,$/, '');
    if (!name) continue;
    const { users: found } = await api.searchUsers(name, 20);
    const user = found.find((u) => u.username.toLowerCase() === name.toLowerCase());
    if (!user) throw new ChatterApiError({ status: 404, code: 'user_not_found', message: `No user named ${name}.` });
    if (!users.some((u) => u.id === user.id)) users.push(user);
  }
  return users;
}

/** Where `send` and `tail` go: `--room` (name or id) or `--dm` (people, comma-separated). */
export interface Target {
  room?: string | undefined;
  dm?: string | undefined;
}

export class TargetError extends Error {}

/**
 * The id of the room a script names. `general` (the default) needs no request, so the common
 * case still works, and retries, while the server is unreachable; so does any id that cannot be
 * checked because the server is down (the socket then says whether it exists).
 */
export async function resolveTarget(api: ChatterApi, target: Target, fallbackId: string): Promise<{ id: string; label: string }> {
  if (target.dm !== undefined) {
    const names = target.dm.split(/[\s,]+/).filter(Boolean);
    if (names.length === 0) throw new TargetError('--dm needs a username (several, comma-separated, for a group).');
    const me = await api.me();
    const users = (await findUsers(api, names)).filter((u) => u.id !== me.user.id);
    if (users.length === 0) throw new TargetError('A DM needs someone other than you.');
    const { room } = await api.openDm(users.map((u) => u.id));
    return { id: room.id, label: roomLabel(room, me.user.id) };
  }
  const ref = target.room ?? fallbackId;
  if (ref === fallbackId) return { id: ref, label: `#${ref}` };
  let rooms: MyRoom[];
  try {
    rooms = (await api.rooms()).rooms;
  } catch (error) {
    if (error instanceof ChatterApiError && error.code === 'network_error' && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(ref)) return { id: ref, label: `#${ref}` };
    throw error;
  }
  const match = findMyRoom(rooms, ref);
  if (match.kind === 'one') return { id: match.room.id, label: roomLabel(match.room) };
  if (match.kind === 'many') throw new TargetError(`Several of your rooms are named "${ref}": use an id (${match.rooms.map((r) => r.id).join(', ')}).`);
  const open = await findPublicRoom(api, ref).catch(() => null);
  if (open) throw new TargetError(`You are not in #${open.name}: join it first (/join ${open.name} in the chat).`);
  throw new TargetError(`You are not in a room named "${ref}" (see /rooms in the chat).`);
}
