import type { PublicUser, SelfUser } from '@chatter/protocol';
import type { UserRecord } from '../storage/types.js';

/** The URL a profile picture is served at. The key changes with the picture, so the URL can be cached forever. */
export function avatarUrl(avatarKey: string | null): string | null {
  return avatarKey ? `/api/avatars/${avatarKey}` : null;
}

export function publicUser(user: Pick<UserRecord, 'id' | 'username' | 'avatarKey'>): PublicUser {
  return { id: user.id, username: user.username, avatarUrl: avatarUrl(user.avatarKey) };
}

export function selfUser(user: UserRecord): SelfUser {
  return { ...publicUser(user), email: user.email, createdAt: new Date(user.createdAt).toISOString() };
}
