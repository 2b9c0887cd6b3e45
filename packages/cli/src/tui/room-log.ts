import type { Message, PublicUser } from '@chatter/protocol';

export type Entry =
  | { kind: 'message'; id: number; message: Message }
  /** Not a chat message: joins and leaves, connection changes, command output. */
  | { kind: 'event'; id: number; at: string; text: string; tone: EventTone };

export type EventTone = 'join' | 'leave' | 'info' | 'error' | 'output';

let nextEventId = 1;

/**
 * What the terminal shows of one room: messages in seq order (each once, however often the
 * server or a history page repeats it), events where they happened, the online users, and how
 * far back history has been loaded.
 */
export class RoomLog {
  readonly entries: Entry[] = [];
  private readonly seqs = new Set<number>();
  readonly online = new Map<number, PublicUser>();
  /** Older messages exist on the server before the oldest loaded one. */
  hasMoreOlder = true;
  loadingOlder = false;
  /** Bumped on every change, so the renderer knows when to re-layout. */
  version = 0;

  constructor(readonly room: string) {}

  get oldestSeq(): number | undefined {
    for (const e of this.entries) if (e.kind === 'message') return e.message.seq;
    return undefined;
  }

  get newestSeq(): number | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.kind === 'message') return e.message.seq;
    }
    return undefined;
  }

  get messageCount(): number {
    return this.seqs.size;
  }

  has(seq: number): boolean {
    return this.seqs.has(seq);
  }

  /** Add messages (any order, duplicates ignored); returns how many were new. */
  addMessages(messages: readonly Message[]): number {
    let added = 0;
    const sorted = [...messages].sort((a, b) => a.seq - b.seq);
    for (const message of sorted) {
      if (message.room !== this.room || this.seqs.has(message.seq)) continue;
      this.seqs.add(message.seq);
      this.insert({ kind: 'message', id: message.id, message });
      added++;
    }
    if (added) this.version++;
    return added;
  }

  /**
   * After its predecessor by seq, and among the events that follow it, by time: a message lands
   * after the events that happened before it (a join) and before those that happened after.
   */
  private insert(entry: Entry & { kind: 'message' }): void {
    const { seq, createdAt } = entry.message;
    let i = this.entries.length;
    while (i > 0) {
      const e = this.entries[i - 1]!;
      if (e.kind === 'message' && e.message.seq < seq) break;
      i--;
    }
    while (i < this.entries.length) {
      const e = this.entries[i]!;
      if (e.kind === 'message' || e.at > createdAt) break;
      i++;
    }
    this.entries.splice(i, 0, entry);
  }

  addEvent(text: string, tone: EventTone, at = new Date().toISOString()): void {
    this.entries.push({ kind: 'event', id: nextEventId++, at, text, tone });
    this.version++;
  }

  setOnline(users: readonly PublicUser[]): void {
    this.online.clear();
    for (const u of users) this.online.set(u.id, u);
    this.version++;
  }

  userJoined(user: PublicUser): void {
    this.online.set(user.id, user);
    this.version++;
  }

  userLeft(user: PublicUser): void {
    this.online.delete(user.id);
    this.version++;
  }

  /** Recent authors, newest first (for completion even when they are offline). */
  recentAuthors(limit = 50): string[] {
    const names: string[] = [];
    for (let i = this.entries.length - 1; i >= 0 && names.length < limit; i--) {
      const e = this.entries[i]!;
      if (e.kind === 'message' && !names.includes(e.message.author.username)) names.push(e.message.author.username);
    }
    return names;
  }
}
