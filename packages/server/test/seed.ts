import { DEFAULT_ROOM } from '@chatter/protocol';
import { storeMessages, type TestServer, type TestUser } from '../src/testing.js';

/** Store `count` messages by `author` straight through the storage seam (see `storeMessages`). */
export async function seedMessages(server: TestServer, author: TestUser, count: number, prefix = 'seed', room = DEFAULT_ROOM): Promise<void> {
  const at = Date.now();
  const tag = Math.random().toString(36).slice(2);
  await storeMessages(
    server,
    Array.from({ length: count }, (_, i) => ({ roomId: room, authorId: author.user.id, clientId: `${prefix}-${i}-${tag}`, text: `${prefix} ${i}`, createdAt: at })),
  );
}
