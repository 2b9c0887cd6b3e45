import { describeMembership, type MembershipEvent, type RoomView, type TimelineItem } from '@chatter/client';
import type { Message } from '@chatter/protocol';

export type Entry =
  | { kind: 'message'; id: number; message: Message }
  /** Not a chat message: membership lines, connection changes, command output. */
  | { kind: 'event'; id: number; at: string; text: string; tone: EventTone };

export type EventTone = 'join' | 'leave' | 'info' | 'error' | 'output' | 'divider';

let nextEventId = 1;

interface Notice {
  entry: Entry & { kind: 'event' };
  /** The room's newest seq when it was added: it shows after that message. */
  afterSeq: number;
}

/**
 * What the terminal shows of one room: the SDK store's timeline (messages and folded membership
 * lines, each once, in seq order) with this terminal's own notices (connection changes, command
 * output) placed where they happened. The timeline itself is the store's: this only lays the two
 * side by side.
 */
export class RoomLog {
  private readonly notices: Notice[] = [];
  loadingOlder = false;
  private cached: { view: RoomView | null; notices: number; divider: Notice | null; entries: Entry[] } | null = null;
  /** The "new messages" line: after the last message read when the room was opened. */
  private divider: Notice | null = null;
  /** Entries keep their identity while their message does, so the layout's wrap cache holds. */
  private readonly messageEntries = new WeakMap<Message, Entry & { kind: 'message' }>();
  private readonly membershipEntries = new WeakMap<MembershipEvent, { count: number; entry: Entry & { kind: 'event' } }>();

  constructor(
    readonly room: string,
    private readonly selfId: () => number | undefined = () => undefined,
  ) {}

  addEvent(text: string, tone: EventTone, at = new Date().toISOString(), afterSeq = Number.MAX_SAFE_INTEGER): void {
    this.notices.push({ entry: { kind: 'event', id: nextEventId++, at, text, tone }, afterSeq });
  }

  /** Put the "new messages" line after `afterSeq` (the read position), or remove it (null). */
  setDivider(afterSeq: number | null): void {
    this.divider = afterSeq === null ? null : { entry: { kind: 'event', id: nextEventId++, at: new Date().toISOString(), text: 'new messages', tone: 'divider' }, afterSeq };
  }

  /** The store's view of the room and the notices, in order. The same array until either changes. */
  entries(view: RoomView | null): Entry[] {
    if (this.cached && this.cached.view === view && this.cached.notices === this.notices.length && this.cached.divider === this.divider) return this.cached.entries;
    const entries: Entry[] = [];
    const items = view?.timeline ?? [];
    const notices = this.divider ? [...this.notices, this.divider].sort((a, b) => a.afterSeq - b.afterSeq) : this.notices;
    let n = 0;
    for (const item of items) {
      if (item.kind === 'message') while (n < notices.length && notices[n]!.afterSeq < item.message.seq) entries.push(notices[n++]!.entry);
      entries.push(this.entryOf(item));
    }
    while (n < notices.length) {
      const notice = notices[n++]!;
      // Nothing after the read position (yet): no line.
      if (notice !== this.divider) entries.push(notice.entry);
    }
    this.cached = { view, notices: this.notices.length, divider: this.divider, entries };
    return entries;
  }

  private entryOf(item: TimelineItem): Entry {
    if (item.kind === 'message') {
      let entry = this.messageEntries.get(item.message);
      if (!entry) this.messageEntries.set(item.message, (entry = { kind: 'message', id: item.message.id, message: item.message }));
      return entry;
    }
    const first = item.events[0]!;
    const hit = this.membershipEntries.get(first);
    if (hit && hit.count === item.events.length) return hit.entry;
    const leaving = item.events.every((e) => e.kind === 'member_left' || e.kind === 'member_removed');
    const entry: Entry & { kind: 'event' } = {
      kind: 'event',
      id: nextEventId++,
      at: item.events.at(-1)!.at,
      text: describeMembership(item.events, this.selfId()),
      tone: leaving ? 'leave' : 'join',
    };
    this.membershipEntries.set(first, { count: item.events.length, entry });
    return entry;
  }
}

/** Recent authors of a room, newest first (for completion even when they are offline). */
export function recentAuthors(view: RoomView | null, limit = 50): string[] {
  const names: string[] = [];
  const messages = view?.messages ?? [];
  for (let i = messages.length - 1; i >= 0 && names.length < limit; i--) {
    const name = messages[i]!.author.username;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}
