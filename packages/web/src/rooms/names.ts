import type { Room } from '@chatter/protocol';
import { stripBidi } from '../text';

/** What a room is called on screen: a channel by its name, a DM by the other people in it. */
export function roomTitle(room: Pick<Room, 'kind' | 'name' | 'members'>, meId: number): string {
  if (room.kind !== 'dm') return stripBidi(room.name);
  const others = room.members.filter((u) => u.id !== meId).map((u) => stripBidi(u.username));
  return others.length === 0 ? 'Just you' : others.join(', ');
}

/** "999+" past the server's ceiling. */
export function badgeCount(n: number, max: number): string {
  return n >= max ? `${max}+` : String(n);
}
