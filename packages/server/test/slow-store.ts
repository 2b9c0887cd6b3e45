import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/storage/sqlite.js';

/**
 * A real SQLite store in a fresh temp dir whose `methods` answer `delayMs()` later, as a networked
 * database's would. A double at our own seam, for races that only an asynchronous store exposes.
 */
export function slowStore(methods: ('listUserRooms' | 'getMessages' | 'getEvents')[], delayMs: () => number): { store: SqliteStore; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatter-slow-'));
  const store = new SqliteStore({ file: join(dataDir, 'chatter.db') });
  for (const method of methods) {
    const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      const ms = delayMs();
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
      return original(...args);
    };
  }
  return { store, dataDir };
}
