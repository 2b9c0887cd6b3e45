import { DEFAULT_ROOM } from '@chatter/protocol';
import type { RoomChange } from '../src/storage/types.js';
import type { TestServer, TestUser } from '../src/testing.js';

/**
 * Store `count` messages straight through the storage seam (fast seeding without sockets or the
 * actions layer's queue): nothing is published, so only readers of the log see them.
 */
export async function seedMessages(server: TestServer, author: TestUser, count: number, prefix = 'seed', room = DEFAULT_ROOM): Promise<void> {
  const at = Date.now();
  const tag = Math.random().toString(36).slice(2);
  const changes: RoomChange[] = Array.from({ length: count }, (_, i) => ({
    kind: 'message_created',
    roomId: room,
    actorId: author.user.id,
    clientId: `${prefix}-${i}-${tag}`,
    at,
    text: `${prefix} ${i}`,
    mentions: [],
  }));
  for (let i = 0; i < changes.length; i += 5000) {
    const results = await server.app.store.applyChanges(changes.slice(i, i + 5000));
    const failed = results.find((r) => !r.ok);
    if (failed) throw new Error(`seeding failed: ${JSON.stringify(failed)}`);
  }
}
