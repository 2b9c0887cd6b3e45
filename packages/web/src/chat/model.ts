import { ChatterApiError, ChatterClient, type OutboxStore, type PendingChange, type PendingMessage, type RoomView, type StatusEvent, type TimelineItem } from '@chatter/client';
import { DEFAULT_ROOM, type Member, type Message, type MyRoom, type PublicUser, type SelfUser } from '@chatter/protocol';
import { api } from '../api';
import { stripBidi } from '../text';
import { messageKey } from './timeline';

export interface ChatState {
  me: SelfUser;
  room: string;
  status: StatusEvent;
  /** navigator.onLine: the device itself has no network. */
  deviceOnline: boolean;
  /** The room's messages and folded membership events, from the SDK's store. */
  items: readonly TimelineItem[];
  /** My messages in the outbox for this room (pending, sending or failed). */
  outgoing: readonly PendingMessage[];
  online: readonly PublicUser[];
  /** Exact number online. In a very large room `online` lists only some of them. */
  onlineCount: number;
  /** Who is typing in the room (not me). */
  typing: readonly PublicUser[];
  /** The room's newest messages have arrived. */
  ready: boolean;
  hasMore: boolean;
  loadingOlder: boolean;
  olderError: string | null;
  /** The last message from someone else, for the screen reader announcement. */
  announcement: { id: number; text: string } | null;
  /** When rows arrived live (performance.now()), so only those animate in. */
  arrivals: ReadonlyMap<string, number>;
  /** Why the last edit, delete or reaction did not happen, or null. */
  notice: string | null;
  /** The open room and my state in it; null until the store has it (joining, or not a member). */
  info: MyRoom | null;
  /**
   * The read position when the room was opened with unread messages: the "new messages" divider
   * goes before the first message after it, and stays there while the room is open (reading
   * moves the position, not the divider). Null when the room had nothing unread.
   */
  dividerAfter: number | null;
  /** The room's members once loaded (for mentions), kept current by the store. */
  members: readonly Member[] | null;
  /**
   * The messages shown stop before the room's end (the reader followed a link to an older
   * message): newer ones load as the reader scrolls down, and "jump to latest" goes back to the end.
   */
  hasMoreNewer: boolean;
  loadingNewer: boolean;
  /**
   * The message a link led to: the list opens on it, highlighted. `window` changes with every jump
   * and every return to the end, so the list starts over where it should be.
   */
  jump: { messageId: number; window: number } | null;
  /** Bumped when the messages held were replaced (a jump, a return to the end): the list starts over. */
  window: number;
  /** A short confirmation ("Link copied"), or a link to copy by hand when the clipboard refused. */
  toast: { text: string; link?: string; id: number } | null;
}

/** Where each room was left: its scroll position (null at the bottom). Kept for the page's life. */
export interface ScrollPosition {
  key: string;
  delta: number;
}

/**
 * The address: `#room-id` opens a room, `#room-id/m/123` a message in it (a message link). A hash
 * route, as rooms always were, so a link works with any server path and reload (the page is one).
 */
export function parseHash(hash: string): { room: string; messageId: number | null } {
  const [roomPart = '', ...rest] = hash.replace(/^#/, '').split('/');
  let room = DEFAULT_ROOM;
  try {
    room = decodeURIComponent(roomPart) || DEFAULT_ROOM;
  } catch {
    /* a malformed address opens the default room */
  }
  const id = rest.length === 2 && rest[0] === 'm' && /^[1-9][0-9]{0,15}$/.test(rest[1]!) ? Number(rest[1]) : null;
  return { room, messageId: id !== null && Number.isSafeInteger(id) ? id : null };
}

/** The room in the address (#room-id), or the default room. */
export function roomFromHash(hash: string): string {
  return parseHash(hash).room;
}

/** The address of a message: this page, with the message's route. */
export function messageLink(room: string, messageId: number): string {
  return `${location.origin}${location.pathname}${location.search}#${encodeURIComponent(room)}/m/${messageId}`;
}

/** Said for a link to a message that is not there, whether it never was, or is in a room the reader may not see. */
export const MISSING_MESSAGE = 'That message isn’t there, or you can’t see it.';

/** Messages on connect, and per page of older history (LIMITS.historyPageMax is the server's ceiling). */
const FIRST_PAGE = 50;
const OLDER_PAGE = 100;

/** Persists the outbox per user in localStorage, so pending messages survive a reload and never leak between accounts. */
export function localOutbox(userId: number): OutboxStore & { clear(): void } {
  const key = `chatter.outbox.${userId}`;
  return {
    load() {
      try {
        const raw = localStorage.getItem(key);
        return raw ? (JSON.parse(raw) as unknown[]) : [];
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
 * The chat as the screen sees it: one immutable snapshot, rebuilt when the SDK's store changes the
 * open room (not when another room changes) and read by React through useSyncExternalStore. The
 * store holds the timeline and applies the protocol; this only shapes one room of it for the screen.
 */
export class ChatModel {
  readonly client: ChatterClient;
  private state: ChatState;
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribers: (() => void)[] = [];
  private readonly arrivals = new Map<string, number>();
  private lastView: RoomView | null = null;
  private readonly onDeviceOnline = () => this.update({ deviceOnline: navigator.onLine });
  /** Back on the page: what arrived meanwhile is now seen. */
  private readonly onAttention = () => this.markSeen();

  constructor(
    me: SelfUser,
    private readonly handlers: { onSessionEnded: (code: number) => void; onMessage?: (m: Message) => void },
  ) {
    const outboxStore = localOutbox(me.id);
    this.client = new ChatterClient({ history: FIRST_PAGE, outboxStore, api });
    const { room, messageId } = typeof location === 'undefined' ? { room: DEFAULT_ROOM, messageId: null } : parseHash(location.hash);
    this.wanted = messageId;
    this.state = {
      me,
      status: { status: 'connecting', attempt: 0 },
      deviceOnline: typeof navigator === 'undefined' ? true : navigator.onLine,
      arrivals: this.arrivals,
      window: 0,
      ...this.roomState(room),
    };
  }

  /** A message the address names, to show once connected (the room's messages are known then). */
  private wanted: number | null;

  /** What the screen holds of one room before its store view arrives: a room just opened. */
  private roomState(room: string) {
    return {
      room,
      items: [],
      outgoing: sends(this.client.pending(), room),
      online: [],
      onlineCount: 0,
      typing: [],
      ready: false,
      hasMore: false,
      loadingOlder: false,
      olderError: null,
      announcement: null,
      notice: null,
      info: null,
      dividerAfter: null,
      members: null,
      hasMoreNewer: false,
      loadingNewer: false,
      jump: null,
      toast: null,
    } satisfies Partial<ChatState>;
  }

  /** Scroll positions by room, so that coming back to a room finds it where it was left. */
  readonly positions = new Map<string, ScrollPosition | null>();
  /** The reader is at the bottom of the open room (set by the list): only then is everything in it seen. */
  private pinned = true;
  private roomOff: (() => void) | null = null;
  /** The divider of the open room has been placed (once its messages are in). */
  private dividerTaken = false;

  setPinned = (pinned: boolean): void => {
    this.pinned = pinned;
    if (pinned) this.markSeen();
  };

  /**
   * Follow the address: open its room, and the message it names (loaded around it when it is not
   * held, however far back). Called on start and on every change of the address.
   */
  navigate(hash: string): void {
    const { room, messageId } = parseHash(hash);
    this.open(room);
    // A link still waiting for the connection is dropped when the address moves on without it.
    this.wanted = messageId;
    this.takeWanted();
  }

  private takeWanted(): void {
    const messageId = this.wanted;
    // The client's own status: during its hello it is online, and the screen's state not yet.
    if (messageId === null || this.client.status !== 'online') return;
    this.wanted = null;
    const room = this.state.room;
    if (this.client.store.room(room)) return void this.jumpTo(room, messageId);
    // A room I am not in: whether it exists is not mine to know, so the same words as for a missing message.
    this.open(DEFAULT_ROOM);
    this.missing();
  }

  private async jumpTo(room: string, messageId: number): Promise<void> {
    const view = this.client.store.room(room);
    if (!view?.messages.some((m) => m.id === messageId)) {
      try {
        await this.client.loadAround(room, messageId, FIRST_PAGE);
      } catch (err) {
        if (room === this.state.room) this.missing(err);
        return;
      }
    }
    if (room !== this.state.room) return;
    const window = this.state.window + 1;
    this.pinned = false;
    this.dividerTaken = true;
    const deleted = this.client.store.message(messageId)?.deleted ?? false;
    this.update({ window, jump: { messageId, window }, dividerAfter: null, notice: deleted ? 'That message was deleted.' : null });
  }

  /** The link led nowhere: say so (the same words for "not there" and "not allowed"), and show the room as usual. */
  private missing(err?: unknown): void {
    const notFound = !err || (err instanceof ChatterApiError && (err.code === 'message_not_found' || err.code === 'room_not_found' || err.code === 'validation_failed'));
    this.update({ jump: null, notice: notFound ? MISSING_MESSAGE : 'Could not load that message. Try the link again.' });
    if (typeof history !== 'undefined') history.replaceState(null, '', `#${encodeURIComponent(this.state.room)}`);
  }

  /** Copy a message's link, saying it was copied; where the clipboard is refused, show the link to copy by hand. */
  copyLink = (messageId: number): void => {
    const link = messageLink(this.state.room, messageId);
    const id = (this.state.toast?.id ?? 0) + 1;
    const clipboard = typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
    if (!clipboard?.writeText) return this.update({ toast: { text: 'Copy this link:', link, id } });
    clipboard.writeText(link).then(
      () => this.update({ toast: { text: 'Link copied', id } }),
      () => this.update({ toast: { text: 'Copy this link:', link, id } }),
    );
  };

  dismissToast = (): void => this.update({ toast: null });

  /** Scrolled to the bottom of a window that stops short of the room's end: the next page. */
  loadNewer = (): void => {
    const { loadingNewer, hasMoreNewer, room, status } = this.state;
    if (loadingNewer || !hasMoreNewer || status.status !== 'online') return;
    this.update({ loadingNewer: true });
    this.client.loadNewer(room, OLDER_PAGE).then(
      () => this.update({ loadingNewer: false }),
      (err: unknown) => this.update({ loadingNewer: false, olderError: err instanceof Error ? err.message : 'Could not load newer messages.' }),
    );
  };

  /** "Jump to latest" from a window away from the end: the room's newest messages, live again. */
  jumpToLatest = async (): Promise<void> => {
    const room = this.state.room;
    if (!this.state.hasMoreNewer) return;
    try {
      await this.client.jumpToLatest(room, FIRST_PAGE);
    } catch (err) {
      this.update({ olderError: err instanceof Error ? err.message : 'Could not load the latest messages.' });
      return;
    }
    if (room !== this.state.room) return;
    this.pinned = true;
    this.update({ window: this.state.window + 1, jump: null });
    this.markSeen();
  };

  /** Show another room. Its messages come from the store (loaded on first opening). */
  open(room: string): void {
    if (room === this.state.room) return;
    // The open room lives in the address. When the model moves on by itself (the room was left, or
    // the address named a room I am not in), the address follows; when the address led here, it
    // names this room already.
    if (typeof location !== 'undefined' && roomFromHash(location.hash) !== room) history.replaceState(null, '', `#${encodeURIComponent(room)}`);
    this.roomOff?.();
    this.lastView = null;
    this.pinned = !this.positions.get(room);
    this.dividerTaken = false;
    this.state = { ...this.state, ...this.roomState(room) };
    this.roomOff = this.client.store.subscribeRoom(room, this.fromStore);
    this.fromStore();
    this.update({});
  }

  /** A room, or a message in it (a link pasted or clicked): the address changed. */
  private readonly onHash = () => this.navigate(location.hash);

  start(): void {
    this.wire();
    window.addEventListener('hashchange', this.onHash);
    // The address was read when the model was made (the screen's first render), and may have
    // changed since, before this listener was there (a link opened while the app starts): follow
    // it now. The same room and message again changes nothing until the hello.
    this.navigate(location.hash);
    window.addEventListener('online', this.onDeviceOnline);
    window.addEventListener('offline', this.onDeviceOnline);
    window.addEventListener('focus', this.onAttention);
    document.addEventListener('visibilitychange', this.onAttention);
    this.client.connect();
  }

  stop(): void {
    window.removeEventListener('hashchange', this.onHash);
    window.removeEventListener('online', this.onDeviceOnline);
    window.removeEventListener('offline', this.onDeviceOnline);
    window.removeEventListener('focus', this.onAttention);
    document.removeEventListener('visibilitychange', this.onAttention);
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

  /** The open room changed in the store: take its new snapshot. */
  private fromStore = (): void => {
    const view = this.client.store.room(this.state.room);
    if (view === this.lastView) return;
    this.lastView = view;
    if (!view) {
      // Left or removed while looking at it: back to the room everyone is in.
      if (this.state.info) this.open(DEFAULT_ROOM);
      return;
    }
    if (!view.loaded && this.state.status.status === 'online') void this.load(view.id);
    if (!this.dividerTaken && view.loaded) {
      this.dividerTaken = true;
      // The position the room was opened at, so the divider does not follow the reading.
      const dividerAfter = view.info.unread > 0 ? view.info.readSeq : null;
      this.state = { ...this.state, dividerAfter };
      // Opened at the divider, not at the bottom: nothing is seen until the list says so.
      if (dividerAfter !== null || this.positions.get(view.id)) this.pinned = false;
    }
    for (const p of view.pending) if (p.kind === 'send' && !this.state.outgoing.some((o) => o.clientId === p.clientId)) this.arrived(messageKey(this.state.me.id, p.clientId));
    this.update({
      items: view.timeline,
      outgoing: sends(view.pending, view.id),
      online: view.online,
      onlineCount: view.onlineCount,
      typing: view.typing,
      ready: view.loaded,
      hasMore: view.hasMoreOlder,
      hasMoreNewer: view.hasMoreNewer,
      info: view.info,
      members: view.members,
    });
    if (view.members === null) this.loadMembers(view.id);
    this.markSeen();
  };

  private readonly membersAsked = new Set<string>();
  /** Members once per room (mentions offer them first); the SDK keeps the list current, and loads it again if it must. */
  private loadMembers(room: string): void {
    if (this.membersAsked.has(room)) return;
    this.membersAsked.add(room);
    this.client.loadMembers(room).catch(() => this.membersAsked.delete(room));
  }

  private loading = new Set<string>();
  /** The newest page, then older ones until the first unread message is held (a badge leads to its message), at most a few pages. */
  private async load(room: string): Promise<void> {
    if (this.loading.has(room)) return;
    this.loading.add(room);
    try {
      await this.client.loadRoom(room, FIRST_PAGE);
      for (let i = 0; i < 5; i++) {
        const view = this.client.store.room(room);
        const oldest = view?.messages[0];
        if (!view || !view.hasMoreOlder || !oldest || oldest.seq <= view.info.readSeq + 1 || view.info.unread === 0) break;
        await this.client.loadOlder(room, OLDER_PAGE);
      }
    } catch {
      /* offline or refused: the skeleton stays until the next connection loads it */
    } finally {
      this.loading.delete(room);
    }
  }

  /** The user is looking at the room: it is read up to what it shows. */
  private markSeen(): void {
    if (typeof document === 'undefined' || document.visibilityState !== 'visible' || !document.hasFocus()) return;
    // Scrolled up, the newest messages are not on the screen: they stay unread until the reader gets there.
    if (!this.state.ready || !this.pinned || this.state.hasMoreNewer || this.state.status.status !== 'online') return;
    this.client.markRead(this.state.room);
  }

  private wire(): void {
    const c = this.client;
    const on = this.unsubscribers.push.bind(this.unsubscribers);
    this.roomOff = c.store.subscribeRoom(this.state.room, this.fromStore);
    on(() => this.roomOff?.());
    on(
      c.on('status', (status) => {
        this.update({ status });
        this.markSeen();
      }),
    );
    on(
      c.on('hello', (hello) => {
        this.update({ me: hello.user });
        // A message link, now that the rooms are known (one in a room I am not in says so).
        this.takeWanted();
        // An address naming a room I am not in (a stale link, a room I left) opens the default room.
        if (!this.client.store.room(this.state.room)) this.open(DEFAULT_ROOM);
        this.fromStore();
        // A room that did not come with the connection (not recently active) is loaded on opening.
        const view = this.client.store.room(this.state.room);
        if (view && !view.loaded) void this.load(this.state.room);
      }),
    );
    on(
      c.on('message', (m) => {
        this.handlers.onMessage?.(m);
        if (m.room !== this.state.room) return;
        this.arrived(messageKey(m.author.id, m.clientId));
        if (m.author.id !== this.state.me.id && !m.deleted) this.update({ announcement: { id: m.id, text: stripBidi(`${m.author.username}: ${truncate(m.text, 240)}`) } });
      }),
    );
    on(c.on('session_ended', (e) => this.handlers.onSessionEnded(e.code)));
    on(
      c.on('error', (e) => {
        // A refused edit, delete or reaction (a failed send shows on the message itself).
        if (e.ref !== undefined && !this.state.outgoing.some((o) => o.clientId === e.ref) && e.code !== 'rate_limited') this.update({ notice: e.message });
      }),
    );
  }

  /** My picture changed (the profile dialog): show the new one everywhere at once. */
  applyProfile(user: PublicUser): void {
    this.client.store.updateProfile(user);
    this.client.store.commit();
    if (user.id === this.state.me.id) this.update({ me: { ...this.state.me, ...user } });
  }

  send(text: string): void {
    this.client.send(this.state.room, text);
    // What one sends shows at the end: back there from a window far up.
    void this.jumpToLatest();
  }

  /** Edit, delete and react in the open room (through the outbox: offline they wait, like messages). */
  readonly actions = {
    react: (messageId: number, emoji: string, on: boolean) => this.client.react(this.state.room, messageId, emoji, on),
    edit: (messageId: number, text: string) => this.guard(() => this.client.edit(this.state.room, messageId, text)),
    remove: (messageId: number) => this.client.delete(this.state.room, messageId),
  };

  /** A change the SDK refuses before sending (an empty edit, say) is shown, not thrown into React. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.update({ notice: err instanceof Error ? err.message : String(err) });
    }
  }

  dismissNotice = (): void => this.update({ notice: null });

  typing(): void {
    this.client.typing(this.state.room);
  }

  retry(clientId: string): void {
    this.client.retry(clientId);
  }

  discard(clientId: string): void {
    this.client.discard(clientId);
  }

  loadOlder = (): void => {
    const { loadingOlder, hasMore, ready, room, status } = this.state;
    if (loadingOlder || !hasMore || !ready || status.status !== 'online') return;
    this.update({ loadingOlder: true, olderError: null });
    this.client.loadOlder(room, OLDER_PAGE).then(
      () => this.update({ loadingOlder: false }),
      (err: unknown) => {
        this.update({ loadingOlder: false, olderError: err instanceof Error ? err.message : 'Could not load older messages.' });
      },
    );
  };
}

function sends(items: readonly PendingChange[], room: string): PendingMessage[] {
  return items.filter((p): p is PendingMessage => p.kind === 'send' && p.room === room);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
