import { ChatterClient, type OutboxStore, type PendingMessage, type StatusEvent } from '@chatter/client';
import { DEFAULT_ROOM, type Message, type PublicUser, type SelfUser } from '@chatter/protocol';
import { stripBidi } from '../text';
import { messageKey, type SystemEvent } from './timeline';

export interface ChatState {
  me: SelfUser;
  room: string;
  status: StatusEvent;
  /** navigator.onLine: the device itself has no network. */
  deviceOnline: boolean;
  /** Acknowledged messages of the room, ascending seq. */
  messages: readonly Message[];
  system: readonly SystemEvent[];
  /** My messages in the outbox for this room (pending, sending or failed). */
  outgoing: readonly PendingMessage[];
  online: readonly PublicUser[];
  /** Exact number online. In a very large room `online` lists only some of them. */
  onlineCount: number;
  /** Latest public profile per user id, from live updates; newer than what old messages carry. */
  profiles: ReadonlyMap<number, PublicUser>;
  /** The room's first history page has arrived. */
  ready: boolean;
  hasMore: boolean;
  loadingOlder: boolean;
  olderError: string | null;
  /** The last message from someone else, for the screen reader announcement. */
  announcement: { id: number; text: string } | null;
  /** When rows arrived live (performance.now()), so only those animate in. */
  arrivals: ReadonlyMap<string, number>;
}

/** Messages on connect, and per page of older history (LIMITS.historyPageMax is the server's ceiling). */
const FIRST_PAGE = 50;
const OLDER_PAGE = 100;
/** Joins from people who were online when our own connection dropped are reconnect noise, not news. */
const REJOIN_QUIET_MS = 60_000;

/** Persists the outbox per user in localStorage, so pending messages survive a reload and never leak between accounts. */
export function localOutbox(userId: number): OutboxStore & { clear(): void } {
  const key = `chatter.outbox.${userId}`;
  return {
    load() {
      try {
        const raw = localStorage.getItem(key);
        return raw ? (JSON.parse(raw) as PendingMessage[]) : [];
      } catch {
        return [];
      }
    },
    save(items) {
      try {
        if (items.length === 0) localStorage.removeItem(key);
        else localStorage.setItem(key, JSON.stringify(items));
      } catch {
        /* storage full or disabled: the in-memory outbox still works */
      }
    },
    clear() {
      try {
        localStorage.removeItem(key);
      } catch {
        /* ignore */
      }
    },
  };
}

/**
 * The chat as the screen sees it: one immutable snapshot, rebuilt on every client event and read
 * by React through useSyncExternalStore. All protocol handling lives in the SDK; this only shapes
 * its events into view state.
 */
export class ChatModel {
  readonly client: ChatterClient;
  private state: ChatState;
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribers: (() => void)[] = [];
  private nextSystemId = 1;
  private lastOnlineIds = new Set<number>();
  private quietUntil = 0;
  private readonly arrivals = new Map<string, number>();
  private readonly onDeviceOnline = () => this.update({ deviceOnline: navigator.onLine });

  constructor(
    me: SelfUser,
    private readonly handlers: { onSessionEnded: (code: number) => void },
  ) {
    const outboxStore = localOutbox(me.id);
    this.client = new ChatterClient({ history: FIRST_PAGE, outboxStore });
    const room = DEFAULT_ROOM;
    this.state = {
      me,
      room,
      status: { status: 'connecting', attempt: 0 },
      deviceOnline: typeof navigator === 'undefined' ? true : navigator.onLine,
      messages: [],
      system: [],
      outgoing: this.client.pending().filter((p) => p.room === room),
      online: [],
      onlineCount: 0,
      profiles: new Map(),
      ready: false,
      hasMore: false,
      loadingOlder: false,
      olderError: null,
      announcement: null,
      arrivals: this.arrivals,
    };
  }

  start(): void {
    this.wire();
    window.addEventListener('online', this.onDeviceOnline);
    window.addEventListener('offline', this.onDeviceOnline);
    this.client.connect();
  }

  stop(): void {
    window.removeEventListener('online', this.onDeviceOnline);
    window.removeEventListener('offline', this.onDeviceOnline);
    for (const off of this.unsubscribers.splice(0)) off();
    this.client.close();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): ChatState => this.state;

  private update(patch: Partial<ChatState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  private arrived(key: string): void {
    const now = performance.now();
    this.arrivals.set(key, now);
    if (this.arrivals.size > 300) {
      for (const [k, t] of this.arrivals) if (now - t > 5000) this.arrivals.delete(k);
    }
  }

  private wire(): void {
    const c = this.client;
    const on = this.unsubscribers.push.bind(this.unsubscribers);
    on(
      c.on('status', (status) => {
        if (status.status !== 'online' && this.state.status.status === 'online') {
          this.lastOnlineIds = new Set(this.state.online.map((u) => u.id));
        }
        if (status.status === 'online' && this.state.status.status !== 'online' && this.state.ready) {
          this.quietUntil = Date.now() + REJOIN_QUIET_MS;
        }
        this.update({ status });
      }),
    );
    on(c.on('hello', (hello) => this.update({ me: hello.user })));
    on(
      c.on('history', (e) => {
        if (e.room !== this.state.room) return;
        if (e.reason === 'initial') {
          this.update({ messages: e.messages, ready: true, hasMore: e.hasMore });
        } else {
          for (const m of e.messages) this.arrived(messageKey(m.author.id, m.clientId));
          this.update({ messages: appendUnique(this.state.messages, e.messages), ready: true });
        }
      }),
    );
    on(
      c.on('message', (m) => {
        if (m.room !== this.state.room) return;
        this.arrived(messageKey(m.author.id, m.clientId));
        const patch: Partial<ChatState> = { messages: appendUnique(this.state.messages, [m]) };
        if (m.author.id !== this.state.me.id) patch.announcement = { id: m.id, text: stripBidi(`${m.author.username}: ${truncate(m.text, 240)}`) };
        this.update(patch);
      }),
    );
    on(
      c.on('presence', (e) => {
        if (e.room === this.state.room) this.update({ online: e.users, onlineCount: e.count });
      }),
    );
    const onJoinLeave = (kind: 'joined' | 'left') => (f: { room: string; user: PublicUser; at: string }) => {
      if (f.room !== this.state.room || f.user.id === this.state.me.id) return;
      if (kind === 'joined' && Date.now() < this.quietUntil && this.lastOnlineIds.has(f.user.id)) return;
      const event: SystemEvent = { id: this.nextSystemId++, kind, user: f.user, at: f.at, afterSeq: this.state.messages.at(-1)?.seq ?? 0 };
      this.arrived(`s:${event.id}`);
      this.update({ system: [...this.state.system, event] });
    };
    on(c.on('user_joined', onJoinLeave('joined')));
    on(c.on('user_left', onJoinLeave('left')));
    on(
      c.on('outbox', (items) => {
        const mine = items.filter((p) => p.room === this.state.room);
        for (const p of mine) if (!this.state.outgoing.some((o) => o.clientId === p.clientId)) this.arrived(messageKey(this.state.me.id, p.clientId));
        this.update({ outgoing: mine });
      }),
    );
    on(c.on('user_updated', (frame) => this.applyProfile(frame.user)));
    on(c.on('session_ended', (e) => this.handlers.onSessionEnded(e.code)));
  }

  /** A user's picture changed: show the new one everywhere, including the presence list and my own header. */
  applyProfile(user: PublicUser): void {
    const profiles = new Map(this.state.profiles);
    profiles.set(user.id, user);
    const patch: Partial<ChatState> = {
      profiles,
      online: this.state.online.map((u) => (u.id === user.id ? user : u)),
    };
    if (user.id === this.state.me.id) patch.me = { ...this.state.me, ...user };
    this.update(patch);
  }

  send(text: string): void {
    this.client.send(this.state.room, text);
  }

  retry(clientId: string): void {
    this.client.retry(clientId);
  }

  discard(clientId: string): void {
    this.client.discard(clientId);
  }

  loadOlder = (): void => {
    const { loadingOlder, hasMore, ready, messages, room, status } = this.state;
    if (loadingOlder || !hasMore || !ready || status.status !== 'online') return;
    const oldest = messages[0]?.seq;
    if (oldest === undefined) return;
    this.update({ loadingOlder: true, olderError: null });
    this.client.requestHistory(room, { before: oldest, limit: OLDER_PAGE }).then(
      (page) => {
        const first = this.state.messages[0]?.seq ?? Infinity;
        const older = page.messages.filter((m) => m.seq < first);
        this.update({ messages: [...older, ...this.state.messages], hasMore: page.hasMore, loadingOlder: false });
      },
      (err: unknown) => {
        this.update({ loadingOlder: false, olderError: err instanceof Error ? err.message : 'Could not load older messages.' });
      },
    );
  };
}

function appendUnique(current: readonly Message[], incoming: readonly Message[]): readonly Message[] {
  const last = current.at(-1)?.seq ?? 0;
  const fresh = incoming.filter((m) => m.seq > last);
  return fresh.length === 0 ? current : [...current, ...fresh];
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
