import { isEmoji, type Reaction } from '@chatter/protocol';

/** How many emoji "recently used" keeps. */
export const RECENT_MAX = 24;

function recentKey(userId: number): string {
  return `chatter.emoji.recent.${userId}`;
}

/** The user's recently used reactions, most recent first (in localStorage, per user). */
export function recentEmoji(userId: number): string[] {
  try {
    const raw = JSON.parse(localStorage.getItem(recentKey(userId)) ?? '[]') as unknown;
    return Array.isArray(raw) ? raw.filter((e): e is string => typeof e === 'string' && isEmoji(e)).slice(0, RECENT_MAX) : [];
  } catch {
    return [];
  }
}

/** `emoji` was just used: first in the list, once. */
export function noteRecentEmoji(userId: number, emoji: string): void {
  const list = [emoji, ...recentEmoji(userId).filter((e) => e !== emoji)].slice(0, RECENT_MAX);
  try {
    localStorage.setItem(recentKey(userId), JSON.stringify(list));
  } catch {
    /* storage full or disabled: the list just does not persist */
  }
}

export function clearRecentEmoji(userId: number): void {
  try {
    localStorage.removeItem(recentKey(userId));
  } catch {
    /* ignore */
  }
}

/**
 * Who reacted, as a sentence: "You, Ana and 3 others reacted with 👍". The message lists at most
 * `LIMITS.reactionUsersListed` reactors and `count` is exact, so the rest are "others"; so are
 * reactors whose name this client does not know.
 */
export function describeReactors(r: Reaction, meId: number | undefined, nameOf: (id: number) => string | undefined): string {
  const names: string[] = [];
  if (meId !== undefined && r.users.includes(meId)) names.push('You');
  for (const id of r.users) {
    if (id === meId) continue;
    const name = nameOf(id);
    if (name !== undefined) names.push(name);
  }
  const shown = r.count <= 3 && names.length === r.count ? names : names.slice(0, 2);
  const others = r.count - shown.length;
  let who: string;
  if (shown.length === 0) who = `${r.count} ${r.count === 1 ? 'person' : 'people'}`;
  else if (others === 0) who = shown.length === 1 ? shown[0]! : `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`;
  else who = `${shown.join(', ')} and ${others} ${others === 1 ? 'other' : 'others'}`;
  return `${who} reacted with ${r.emoji}`;
}
