import {
  LIMITS,
  type MEMBERSHIP_EVENT_KINDS,
  type Member,
  type Message,
  type MessageBody,
  type MyRoom,
  type NotifyLevel,
  type PublicUser,
  type Reaction,
  type RoomEvent,
  type RoomEventOf,
  type SelfUser,
} from '@chatter/protocol';
import type { PendingChange } from './outbox.js';

/*
 * The client's state of every room, shared by every consumer (the web app, the terminal client,
 * `tail`, tests). It applies the rules of docs/architecture.md ("The room event log"):
 *
 * - The log is applied in seq order. Each room has `applied`, the last seq with nothing missing
 *   before it; an event beyond `applied + 1` is held, and the client asks the server for the events
 *   in between (`gapAfter`). An event at or before `applied` has been applied (or is reflected in
 *   the page that set the baseline) and is ignored.
 * - An event changes a message it holds only when `event.seq > message.version` (then version =
 *   seq); a page's copy replaces a held one only when its version is at least the held one. So a
 *   page and an event commute, and a repeat changes nothing.
 * - Counts: the server's unread and mention counts (hello, room_joined, read_state) hold up to the
 *   room's `lastSeq` when they were read; each later event adjusts them once (`countedThrough`).
 *
 * Changes are batched: mutators mark rooms dirty and `commit()` notifies each dirty room's
 * subscribers once, so a reaction in one room never wakes another room's view.
 */

export type MembershipEvent = RoomEventOf<(typeof MEMBERSHIP_EVENT_KINDS)[number]>;

/** One line of a room's timeline: a message, or a run of membership events with no message between. */
export type TimelineItem =
  | { kind: 'message'; key: string; message: Message }
  | { kind: 'membership'; key: string; events: readonly MembershipEvent[] };

/** A member of a room as a member list shows it: with whether they are online now. */
export interface RoomMember extends Member {
  online: boolean;
}

/** One room as a screen shows it. A new object whenever anything in the room changes, the same one otherwise. */
export interface RoomView {
  id: string;
  /** The room and the user's state in it (read position, counts). */
  info: MyRoom;
  /** Messages held, ascending seq, each once. Tombstones included (`deleted`). */
  messages: readonly Message[];
  /** Messages and folded membership events, ascending seq. */
  timeline: readonly TimelineItem[];
  /** The newest messages have been loaded: the timeline is the room's end, not only what arrived live. */
  loaded: boolean;
  /** Older messages exist before the oldest held one. */
  hasMoreOlder: boolean;
  /**
   * The messages held stop before the room's end: the reader jumped back to a message
   * (`ChatterClient.loadAround`). Newer ones come a page at a time (`loadNewer`) until the window
   * meets the room's end again, or at once with `jumpToLatest`. Meanwhile live messages are counted
   * (unread, activity) but not held: they belong after pages not loaded yet.
   */
  hasMoreNewer: boolean;
  /** Last seq applied with nothing missing before it; null while the room is being reloaded. */
  applied: number | null;
  /** Who is typing now (not the user themselves). */
  typing: readonly PublicUser[];
  /**
   * Null until loaded (`ChatterClient.loadMembers`); kept up to date by membership and role events
   * and presence after that. Owner, admins, then members, each by name; the same array until one
   * of them changes (`ChatterStore.members`).
   */
  members: readonly RoomMember[] | null;
  online: readonly PublicUser[];
  /** Exact number online; in very large rooms `online` lists only some. */
  onlineCount: number;
  /** The user's changes to this room not yet seen in its log: sends, edits, deletes, reactions. */
  pending: readonly PendingChange[];
}

interface RoomState {
  info: MyRoom;
  applied: number | null;
  countedThrough: number;
  held: Map<number, RoomEvent>;
  /** Message ids, ascending seq. */
  ids: number[];
  /** Membership events, ascending seq. */
  notices: MembershipEvent[];
  loaded: boolean;
  hasMoreOlder: boolean;
  /** See `RoomView.hasMoreNewer`. */
  hasMoreNewer: boolean;
  typing: Map<number, { user: PublicUser; until: number }>;
  members: Map<number, Member> | null;
  /**
   * While a member list is being loaded: the membership and role events applied meanwhile, to be
   * applied again on top of the list (see `setMembers`). Null when no load is in flight.
   */
  memberEvents: RoomEvent[] | null;
  /** Bumped when the held members can no longer be trusted (reset, rebase): a load begun before is stale. */
  membersEpoch: number;
  /** The last `members` selector result, kept while it is still equal (stable for React). */
  memberList: readonly RoomMember[] | null;
  online: Map<number, PublicUser>;
  /** Set when the server reports a count rather than everyone (large rooms). */
  onlineCount: number | null;
  pending: PendingChange[];
  view: RoomView | null;
}

export interface ChatterStoreOptions {
  /** Clock for typing expiry. Default `Date.now`. */
  now?: () => number;
}


export class ChatterStore {
  private me: SelfUser | null = null;
  private readonly roomStates = new Map<string, RoomState>();
  private readonly messages = new Map<number, Message>();
  private readonly profiles = new Map<number, PublicUser>();
  private readonly listeners = new Set<() => void>();
  private readonly roomListeners = new Map<string, Set<() => void>>();
  private readonly roomListListeners = new Set<() => void>();
  private readonly dirtyRooms = new Set<string>();
  private listDirty = false;
  private roomList: readonly MyRoom[] | null = null;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  /** The whole outbox: a room joined later (hello after an offline start) takes its part. */
  private pendingItems: readonly PendingChange[] = [];
  private readonly now: () => number;

  constructor(opts: ChatterStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  // ---- Selectors ----

  /** The signed-in user (from hello). */
  get self(): SelfUser | null {
    return this.me;
  }

  /** The user's rooms, most recently active first. The same array until one of them changes. */
  rooms(): readonly MyRoom[] {
    this.roomList ??= [...this.roomStates.values()]
      .map((r) => r.info)
      .sort((a, b) => (a.lastActivityAt < b.lastActivityAt ? 1 : a.lastActivityAt > b.lastActivityAt ? -1 : a.id.localeCompare(b.id)));
    return this.roomList;
  }

  /** One room, or null when the user is not in it. The same object until something in the room changes. */
  room(id: string): RoomView | null {
    const r = this.roomStates.get(id);
    if (!r) return null;
    r.view ??= this.buildView(id, r);
    return r.view;
  }

  /**
   * The room's members with who is online, owner and admins first, then by name; null until loaded
   * (`ChatterClient.loadMembers`). The same array until a member, a role or someone's presence changes.
   */
  members(id: string): readonly RoomMember[] | null {
    return this.room(id)?.members ?? null;
  }

  message(id: number): Message | undefined {
    return this.messages.get(id);
  }

  /** The newest public profile the client has seen for a user (a new picture reaches old messages too). */
  profile(userId: number): PublicUser | undefined {
    return this.profiles.get(userId);
  }

  /** Unread messages over every room (for a title or a badge). */
  unreadTotal(): number {
    let n = 0;
    for (const r of this.roomStates.values()) n += r.info.unread;
    return n;
  }

  /** The last seq of a room applied with nothing missing before it (0 when unknown). */
  applied(room: string): number {
    return this.roomStates.get(room)?.applied ?? 0;
  }

  /** The seq the client must ask events after, when a room holds events beyond a hole; else null. */
  gapAfter(room: string): number | null {
    const r = this.roomStates.get(room);
    if (!r || r.applied === null || r.held.size === 0) return null;
    return r.applied;
  }

  // ---- Subscriptions ----

  /** Any change at all. Returns a function that unsubscribes. */
  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** Changes to one room's view (messages, reactions, typing, members, its info). */
  subscribeRoom(room: string, fn: () => void): () => void {
    let set = this.roomListeners.get(room);
    if (!set) this.roomListeners.set(room, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.roomListeners.get(room) === set) this.roomListeners.delete(room);
    };
  }

  /** Changes to the room list: a room added or removed, renamed, its counts or activity time. */
  subscribeRooms(fn: () => void): () => void {
    this.roomListListeners.add(fn);
    return () => this.roomListListeners.delete(fn);
  }

  // ---- Mutators (used by ChatterClient; call `commit()` after a batch) ----

  /**
   * A new connection's hello: the user's rooms as they are now. Rooms the user left meanwhile are
   * dropped; held rooms keep their messages and `applied` (resume brings them up to date); the
   * server's counts replace ours.
   */
  hello(user: SelfUser, rooms: readonly MyRoom[]): void {
    this.me = user;
    this.profiles.set(user.id, { id: user.id, username: user.username, avatarUrl: user.avatarUrl });
    const present = new Set(rooms.map((r) => r.id));
    for (const id of [...this.roomStates.keys()]) if (!present.has(id)) this.dropRoom(id);
    for (const info of rooms) this.joinRoom(info, true);
  }

  /**
   * The user is in a room (hello, room_joined). A room not held starts at the room's `lastSeq`,
   * nothing loaded. `fromHello`: the connection's own read of its rooms, which replaces what is held
   * even when its log is shorter (a server restored from a backup: resume_ahead follows).
   */
  joinRoom(info: MyRoom, fromHello = false): void {
    const r = this.roomStates.get(info.id);
    if (!r) {
      this.roomStates.set(info.id, {
        info: { ...info },
        applied: info.lastSeq,
        countedThrough: info.lastSeq,
        held: new Map(),
        ids: [],
        notices: [],
        loaded: false,
        hasMoreOlder: info.lastSeq > 0,
        hasMoreNewer: false,
        typing: new Map(),
        members: null,
        memberEvents: null,
        membersEpoch: 0,
        memberList: null,
        online: new Map(),
        onlineCount: null,
        pending: this.pendingItems.filter((p) => p.room === info.id),
        view: null,
      });
    } else {
      // A `room_joined` read before this connection's `hello` read the rooms can reach the socket
      // after hello: what the store holds (hello's state and the events since, the presence sent
      // after hello) is newer than it.
      if (!fromHello && info.lastSeq < r.countedThrough) return;
      r.info = { ...info, lastSeq: Math.max(info.lastSeq, r.applied ?? 0) };
      r.countedThrough = Math.max(info.lastSeq, r.countedThrough);
      r.online.clear();
      r.onlineCount = null;
    }
    this.touch(info.id, true);
  }

  /** The user left or was removed: forget the room and its messages. */
  leaveRoom(id: string): void {
    if (!this.roomStates.has(id)) return;
    this.dropRoom(id);
    this.listChanged();
  }

  /**
   * Drop what is held of a room (resume_gap, resume_ahead): no event can fix it. Live events are
   * held until `applyPage(..., 'replace')` sets the new baseline.
   */
  resetRoom(id: string): void {
    const r = this.roomStates.get(id);
    if (!r) return;
    for (const mid of r.ids) this.messages.delete(mid);
    r.ids = [];
    r.notices = [];
    r.held.clear();
    r.applied = null;
    r.loaded = false;
    r.hasMoreNewer = false;
    this.forgetMembers(r);
    this.touch(id);
  }

  /**
   * Start a room over at `lastSeq` with nothing loaded: on a connection that did not resume it, what
   * the client held of it cannot be brought up to date.
   */
  rebase(id: string, lastSeq: number): void {
    const r = this.roomStates.get(id);
    if (!r) return;
    for (const mid of r.ids) this.messages.delete(mid);
    r.ids = [];
    r.notices = [];
    r.held.clear();
    r.applied = lastSeq;
    r.countedThrough = Math.max(r.countedThrough, lastSeq);
    r.loaded = false;
    r.hasMoreOlder = lastSeq > 0;
    r.hasMoreNewer = false;
    this.forgetMembers(r);
    this.touch(id);
  }

  /**
   * Events of a room, live or replayed, in any order, with repeats. Applies what is contiguous;
   * returns the applied events in order (each exactly once over the room's life).
   */
  receive(roomId: string, events: readonly RoomEvent[]): RoomEvent[] {
    const r = this.roomStates.get(roomId);
    if (!r) return [];
    for (const e of events) if (r.applied === null || e.seq > r.applied) r.held.set(e.seq, e);
    return this.drain(roomId, r);
  }

  /**
   * A page of messages. `replace`: the room's newest page after a reset or on a fresh connection
   * (it sets `applied` to the page's `lastSeq` when the room has no baseline). `newest`: the newest
   * page of a room whose end arrived live. `older`: a page before the oldest held message.
   * `newer`: a page after the newest held message (`hasMore`: newer ones exist). `window`: a page
   * that replaces every message held (the page around a message, with `hasNewer`; the newest page,
   * without): what was held may not be contiguous with it.
   *
   * A window that may stop before the room's end holds no live message until pages after it meet
   * the end. It has met it when a page reaches the end of the log as the page read it (`hasMore` /
   * `hasNewer` false) and that end is not behind what this store has applied: live messages
   * applied beyond a page's `lastSeq` were not held, so one more page fetches them.
   */
  applyPage(
    roomId: string,
    page: { messages: readonly Message[]; hasMore: boolean; hasNewer?: boolean; lastSeq: number; membership?: readonly MembershipEvent[] },
    kind: 'replace' | 'newest' | 'older' | 'newer' | 'window',
  ): RoomEvent[] {
    const r = this.roomStates.get(roomId);
    if (!r) return [];
    if (kind === 'window') {
      for (const mid of r.ids) this.messages.delete(mid);
      r.ids = [];
      r.notices = [];
    }
    if ((kind === 'replace' || kind === 'window') && r.applied === null) {
      r.applied = page.lastSeq;
      // The server's log may be shorter than what was held (resume_ahead): its end is the room's end.
      r.info = { ...r.info, lastSeq: page.lastSeq };
      r.countedThrough = page.lastSeq;
      this.listChanged();
      for (const seq of [...r.held.keys()]) if (seq <= page.lastSeq) r.held.delete(seq);
    }
    for (const copy of page.messages) this.takeCopy(r, copy);
    // The membership events of the page's span: lines only. What they change (members, counts) is
    // applied when the event itself is, live or replayed, or is already in the room's info.
    for (const e of page.membership ?? []) addNotice(r.notices, e);
    if (kind === 'older' || kind === 'window' || (kind !== 'newer' && !r.loaded)) r.hasMoreOlder = page.hasMore;
    if (kind === 'newer' || kind === 'window') {
      const more = kind === 'newer' ? page.hasMore : (page.hasNewer ?? false);
      r.hasMoreNewer = more || (r.applied !== null && page.lastSeq < r.applied);
    } else if (kind === 'replace') r.hasMoreNewer = false;
    if (kind !== 'older') r.loaded = true;
    if (r.applied !== null && page.lastSeq > r.info.lastSeq) {
      r.info = { ...r.info, lastSeq: page.lastSeq };
      this.listChanged();
    }
    this.touch(roomId);
    return this.drain(roomId, r);
  }

  /**
   * The server's read position and counts (`read_state`), which include every message up to
   * `lastSeq`. The frame may overtake the events it counts (a socket's own frames go out before the
   * room's), so those events must not count again when they arrive; and events after `lastSeq`
   * this store has counted already are added on top.
   */
  setReadState(roomId: string, state: { readSeq: number; unread: number; mentions: number; lastSeq?: number }): void {
    const r = this.roomStates.get(roomId);
    if (!r) return;
    const readSeq = Math.max(state.readSeq, r.info.readSeq);
    let { unread, mentions } = state;
    if (state.lastSeq !== undefined && state.lastSeq >= r.countedThrough) r.countedThrough = state.lastSeq;
    else if (state.lastSeq !== undefined) {
      // Counts older than what this store has counted. A frame computed before a connection's
      // `hello` read its rooms can reach that connection after it: then its position is no newer
      // than hello's, and hello's counts (and every event since) are newer than the frame's.
      if (state.readSeq <= r.info.readSeq) return;
      // The position moved on meanwhile (another device read): the frame's counts, plus what this
      // store has counted since the frame's lastSeq, as far as the messages held tell.
      const me = this.me?.id;
      for (const mid of r.ids) {
        const m = this.messages.get(mid)!;
        if (m.seq <= readSeq || m.author.id === me) continue;
        if (m.seq <= state.lastSeq) {
          // Counted by the frame, deleted since: no longer unread.
          if (m.deleted && m.version > state.lastSeq && m.version <= r.countedThrough && unread < LIMITS.unreadCountMax) unread = Math.max(0, unread - 1);
          continue;
        }
        if (m.seq > r.countedThrough || m.deleted) continue;
        unread = Math.min(LIMITS.unreadCountMax, unread + 1);
        if (me !== undefined && m.mentions.includes(me)) mentions = Math.min(LIMITS.unreadCountMax, mentions + 1);
      }
    }
    if (r.info.readSeq === readSeq && r.info.unread === unread && r.info.mentions === mentions) return;
    r.info = { ...r.info, readSeq, unread, mentions };
    this.touch(roomId, true);
  }

  /**
   * The user read up to `seq` here (optimistic, before the server's read_state): a position only
   * moves forward, and read through everything applied means nothing is unread.
   */
  markReadLocally(roomId: string, seq: number): void {
    const r = this.roomStates.get(roomId);
    if (!r || seq <= r.info.readSeq) return;
    const all = r.applied !== null && seq >= r.applied;
    r.info = { ...r.info, readSeq: seq, ...(all && { unread: 0, mentions: 0 }) };
    this.touch(roomId, true);
  }

  setTyping(roomId: string, user: PublicUser, expiresInMs: number): void {
    const r = this.roomStates.get(roomId);
    if (!r || user.id === this.me?.id) return;
    r.typing.set(user.id, { user, until: this.now() + expiresInMs });
    this.touch(roomId);
    this.scheduleTypingExpiry();
  }

  setPresence(roomId: string, users: readonly PublicUser[], count: number): void {
    const r = this.roomStates.get(roomId);
    if (!r) return;
    r.online = new Map(users.map((u) => [u.id, u]));
    r.onlineCount = count > users.length ? count : null;
    this.touch(roomId);
  }

  setOnlineCount(roomId: string, count: number): void {
    const r = this.roomStates.get(roomId);
    if (!r) return;
    r.onlineCount = count;
    this.touch(roomId);
  }

  /**
   * One user came online or went offline here. News that changes nothing wakes nobody: the server's
   * presence batch can repeat what the snapshot in `presence` already said (a user who left between
   * the batch's start and this socket's snapshot is announced gone to it as well).
   */
  setOnline(roomId: string, user: PublicUser, online: boolean): void {
    const r = this.roomStates.get(roomId);
    if (!r) return;
    if (online) {
      const held = r.online.get(user.id);
      if (held && held.username === user.username && held.avatarUrl === user.avatarUrl) return;
      r.online.set(user.id, user);
    } else if (!r.online.delete(user.id)) return;
    this.touch(roomId);
  }

  /** Connection lost: who is online is no longer known. */
  clearPresence(): void {
    for (const [id, r] of this.roomStates) {
      if (r.online.size === 0 && r.onlineCount === null && r.typing.size === 0) continue;
      r.online.clear();
      r.onlineCount = null;
      r.typing.clear();
      this.touch(id);
    }
  }

  /**
   * A member list load starts (`ChatterClient.loadMembers`): from now on the membership and role
   * events applied are kept, so that `setMembers` can apply those the list predates. Returns the
   * epoch to hand back to `setMembers`.
   */
  beginMembersLoad(roomId: string): number | null {
    const r = this.roomStates.get(roomId);
    if (!r) return null;
    r.memberEvents ??= [];
    return r.membersEpoch;
  }

  /**
   * The room's members as the server listed them. With `lastSeq` (the room's newest seq, read before
   * the list), the events applied since `beginMembersLoad` with a greater seq are applied again on
   * top: the list may predate them. Applying a membership event again is harmless (each sets one
   * user's state), so it does not matter which of them the list already reflects. A list from
   * before the held members were dropped (`epoch` no longer current) is ignored.
   */
  setMembers(roomId: string, members: readonly Member[], lastSeq?: number, epoch?: number): boolean {
    const r = this.roomStates.get(roomId);
    if (!r) return false;
    if (epoch !== undefined && epoch !== r.membersEpoch) return false;
    r.members = new Map(members.map((m) => [m.user.id, m]));
    if (lastSeq !== undefined) for (const e of r.memberEvents ?? []) if (e.seq > lastSeq) applyToMembers(r.members, e);
    r.memberEvents = null;
    this.touch(roomId);
    return true;
  }

  /** A member list load failed: stop keeping events for it. */
  endMembersLoad(roomId: string): void {
    const r = this.roomStates.get(roomId);
    if (r) r.memberEvents = null;
  }

  /** The user's notification level in a room changed (theirs, from any device: `membership_updated`). */
  setNotify(roomId: string, notify: NotifyLevel): void {
    const r = this.roomStates.get(roomId);
    if (!r || r.info.notify === notify) return;
    r.info = { ...r.info, notify };
    this.touch(roomId, true);
  }

  private forgetMembers(r: RoomState): void {
    // Membership events may have been missed: what is held is stale, and so is any list in flight.
    r.members = null;
    r.memberEvents = null;
    r.membersEpoch++;
  }

  /** A user's public profile changed: every room that shows them re-renders. */
  updateProfile(user: PublicUser): void {
    this.profiles.set(user.id, user);
    if (this.me?.id === user.id) this.me = { ...this.me, username: user.username, avatarUrl: user.avatarUrl };
    for (const [id, r] of this.roomStates) {
      if (r.online.has(user.id)) r.online.set(user.id, user);
      const member = r.members?.get(user.id);
      if (member) r.members!.set(user.id, { ...member, user });
      // Messages carry the author as of when they were read; the views take the newest profile.
      if (r.online.has(user.id) || member || r.ids.some((mid) => this.messages.get(mid)?.author.id === user.id)) this.touch(id);
    }
  }

  /** The outbox changed: each room's `pending` is its part of it. */
  setPending(items: readonly PendingChange[]): void {
    this.pendingItems = items;
    const byRoom = new Map<string, PendingChange[]>();
    for (const item of items) {
      let list = byRoom.get(item.room);
      if (!list) byRoom.set(item.room, (list = []));
      list.push(item);
    }
    for (const [id, r] of this.roomStates) {
      const next = byRoom.get(id) ?? [];
      if (samePending(r.pending, next)) continue;
      r.pending = next;
      this.touch(id);
    }
  }

  /** Notify the subscribers of what changed since the last commit. */
  commit(): void {
    if (this.dirtyRooms.size === 0 && !this.listDirty) return;
    const rooms = [...this.dirtyRooms];
    const list = this.listDirty;
    this.dirtyRooms.clear();
    this.listDirty = false;
    for (const id of rooms) for (const fn of [...(this.roomListeners.get(id) ?? [])]) safeCall(fn);
    if (list) for (const fn of [...this.roomListListeners]) safeCall(fn);
    for (const fn of [...this.listeners]) safeCall(fn);
  }

  // ---- Applying ----

  private drain(roomId: string, r: RoomState): RoomEvent[] {
    const out: RoomEvent[] = [];
    if (r.applied === null) return out;
    for (let e = r.held.get(r.applied + 1); e; e = r.held.get(r.applied + 1)) {
      r.held.delete(e.seq);
      r.applied = e.seq;
      const counting = e.seq > r.countedThrough;
      if (counting) r.countedThrough = e.seq;
      this.apply(r, e, counting);
      out.push(e);
    }
    if (out.length > 0) {
      if (r.applied > r.info.lastSeq) r.info = { ...r.info, lastSeq: r.applied };
      this.touch(roomId);
    }
    return out;
  }

  private apply(r: RoomState, e: RoomEvent, counting: boolean): void {
    const me = this.me?.id;
    switch (e.kind) {
      case 'message_created': {
        const m = e.message;
        // A held copy came from a page, whose version is at least this event's seq: it stays. Past
        // a window that stops short of the room's end, the message waits for the page that holds it.
        if (!this.messages.has(m.id) && !r.hasMoreNewer) this.insert(r, m);
        this.profiles.set(m.author.id, m.author);
        if (r.typing.delete(m.author.id)) this.scheduleTypingExpiry();
        // The server keeps the latest time, not the last event's: times need not rise with seq
        // (each change is stamped when its request arrives, and clocks step back).
        const info: Partial<MyRoom> = { lastActivityAt: Date.parse(e.at) > Date.parse(r.info.lastActivityAt) ? e.at : r.info.lastActivityAt };
        if (counting && m.author.id !== me && m.seq > r.info.readSeq && !m.deleted) {
          info.unread = Math.min(LIMITS.unreadCountMax, r.info.unread + 1);
          if (me !== undefined && m.mentions.includes(me)) info.mentions = Math.min(LIMITS.unreadCountMax, r.info.mentions + 1);
        }
        r.info = { ...r.info, ...info };
        this.listChanged();
        return;
      }
      case 'message_edited':
      case 'message_deleted': {
        const body = e.message;
        const held = this.messages.get(body.id);
        if (counting && body.authorId !== me && body.seq > r.info.readSeq && me !== undefined) this.recount(r, held, body, e.kind === 'message_deleted');
        if (held && e.seq > held.version) this.messages.set(body.id, withBody(held, body, e.seq));
        return;
      }
      case 'reaction_added':
      case 'reaction_removed': {
        const held = this.messages.get(e.messageId);
        if (held && e.seq > held.version && !held.deleted) {
          this.messages.set(e.messageId, { ...held, version: e.seq, reactions: react(held.reactions, e.emoji, e.userId, e.count, e.kind === 'reaction_added') });
        }
        return;
      }
      case 'member_joined':
      case 'member_invited':
      case 'member_left':
      case 'member_removed': {
        if (!r.hasMoreNewer || e.seq < this.newestHeldSeq(r)) addNotice(r.notices, e);
        const joined = e.kind === 'member_joined' || e.kind === 'member_invited';
        if (r.members) applyToMembers(r.members, e);
        r.memberEvents?.push(e);
        if (counting) {
          r.info = { ...r.info, memberCount: Math.max(0, r.info.memberCount + (joined ? 1 : -1)) };
          if (r.info.kind === 'dm') {
            const members = r.info.members.filter((u) => u.id !== e.user.id);
            r.info.members = joined ? [...members, e.user] : members;
          }
          this.listChanged();
        }
        return;
      }
      case 'member_role_changed': {
        if (r.members) applyToMembers(r.members, e);
        r.memberEvents?.push(e);
        if (e.user.id === me) {
          r.info = { ...r.info, role: e.role };
          this.listChanged();
        }
        return;
      }
      case 'room_renamed':
        r.info = { ...r.info, name: e.name };
        this.listChanged();
        return;
      case 'room_topic_changed':
        r.info = { ...r.info, topic: e.topic };
        this.listChanged();
        return;
      case 'room_archived':
        r.info = { ...r.info, archived: e.archived };
        this.listChanged();
        return;
      case 'room_created':
      case 'hidden':
        return;
    }
  }

  /**
   * A live edit or delete of a message after the read position: a deleted one stops counting as
   * unread, and an edit may add or remove a mention of the user. Counts at the cap stay there (the
   * true count may be higher). A message not held that is deleted may have mentioned the user: its
   * mention stays counted until the server's next count.
   */
  private recount(r: RoomState, held: Message | undefined, body: MessageBody, deleted: boolean): void {
    if (held?.deleted) return; // a tombstone counts for nothing already
    const me = this.me!.id;
    let { unread, mentions } = r.info;
    if (deleted && unread < LIMITS.unreadCountMax) unread = Math.max(0, unread - 1);
    if (held) {
      const before = held.mentions.includes(me);
      const now = !body.deleted && body.mentions.includes(me);
      if (before && !now && mentions < LIMITS.unreadCountMax) mentions = Math.max(0, mentions - 1);
      if (!before && now) mentions = Math.min(LIMITS.unreadCountMax, mentions + 1);
    }
    if (unread !== r.info.unread || mentions !== r.info.mentions) {
      r.info = { ...r.info, unread, mentions };
      this.listChanged();
    }
  }

  private takeCopy(r: RoomState, copy: Message): void {
    const held = this.messages.get(copy.id);
    if (!held) this.insert(r, copy);
    else if (copy.version >= held.version && copy !== held) this.messages.set(copy.id, copy);
    this.profiles.set(copy.author.id, this.profiles.get(copy.author.id) ?? copy.author);
  }

  private newestHeldSeq(r: RoomState): number {
    const id = r.ids.at(-1);
    return id === undefined ? 0 : this.messages.get(id)!.seq;
  }

  /** Insert a message id at its place by seq (nearly always the end). */
  private insert(r: RoomState, m: Message): void {
    this.messages.set(m.id, m);
    const ids = r.ids;
    let i = ids.length;
    while (i > 0 && this.messages.get(ids[i - 1]!)!.seq > m.seq) i--;
    ids.splice(i, 0, m.id);
  }

  private dropRoom(id: string): void {
    const r = this.roomStates.get(id)!;
    for (const mid of r.ids) this.messages.delete(mid);
    this.roomStates.delete(id);
    this.dirtyRooms.add(id);
    this.listChanged();
  }

  /** Something in the room changed: its snapshot is rebuilt on next read, its subscribers told on commit. */
  private touch(id: string, list = false): void {
    this.dirtyRooms.add(id);
    const r = this.roomStates.get(id);
    if (r) r.view = null;
    if (list) this.listChanged();
  }

  private listChanged(): void {
    this.listDirty = true;
    this.roomList = null;
  }

  private scheduleTypingExpiry(): void {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    let next = Infinity;
    const now = this.now();
    let expired = false;
    for (const [id, r] of this.roomStates) {
      for (const [uid, t] of r.typing) {
        if (t.until <= now) {
          r.typing.delete(uid);
          this.touch(id);
          expired = true;
        } else next = Math.min(next, t.until);
      }
    }
    if (expired) this.commit();
    if (next !== Infinity) {
      this.typingTimer = setTimeout(() => this.scheduleTypingExpiry(), Math.max(10, next - now));
      (this.typingTimer as { unref?: () => void }).unref?.();
    }
  }

  /** Stop timers (the client is closed for good). */
  dispose(): void {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = null;
  }

  private memberList(r: RoomState): readonly RoomMember[] | null {
    if (!r.members) return (r.memberList = null);
    const next: RoomMember[] = [...r.members.values()]
      .map((m) => ({ ...m, user: this.profiles.get(m.user.id) ?? m.user, online: r.online.has(m.user.id) }))
      .sort((a, b) => ROLE_RANK[a.role] - ROLE_RANK[b.role] || a.user.username.localeCompare(b.user.username) || a.user.id - b.user.id);
    const prev = r.memberList;
    const same =
      prev !== null &&
      prev.length === next.length &&
      prev.every((p, i) => {
        const n = next[i]!;
        return p.user === n.user && p.role === n.role && p.joinedAt === n.joinedAt && p.online === n.online;
      });
    if (!same) r.memberList = next;
    return r.memberList;
  }

  private buildView(id: string, r: RoomState): RoomView {
    const messages = r.ids.map((mid) => {
      const m = this.messages.get(mid)!;
      const author = this.profiles.get(m.author.id);
      return author && author.avatarUrl !== m.author.avatarUrl ? withAuthor(m, author) : m;
    });
    const typing = [...r.typing.values()].map((t) => this.profiles.get(t.user.id) ?? t.user);
    const online = [...r.online.values()];
    return {
      id,
      info: r.info,
      messages,
      timeline: buildTimeline(messages, r.notices),
      loaded: r.loaded,
      hasMoreOlder: r.hasMoreOlder,
      hasMoreNewer: r.hasMoreNewer,
      applied: r.applied,
      typing,
      members: this.memberList(r),
      online,
      onlineCount: r.onlineCount ?? online.length,
      pending: r.pending,
    };
  }
}

const ROLE_RANK: Record<Member['role'], number> = { owner: 0, admin: 1, member: 2 };

/** One membership or role event on a member list; each sets one user's state, so a repeat changes nothing. */
function applyToMembers(members: Map<number, Member>, e: RoomEvent): void {
  switch (e.kind) {
    case 'member_joined':
    case 'member_invited':
      members.set(e.user.id, { user: e.user, role: e.role, joinedAt: e.at });
      return;
    case 'member_left':
    case 'member_removed':
      members.delete(e.user.id);
      return;
    case 'member_role_changed': {
      const member = members.get(e.user.id);
      if (member) members.set(e.user.id, { ...member, role: e.role });
      return;
    }
  }
}

/** Same author with their newest profile, memoised so a row keeps its identity across rebuilds. */
const authored = new WeakMap<Message, Message>();
function withAuthor(m: Message, author: PublicUser): Message {
  const cached = authored.get(m);
  if (cached && cached.author === author) return cached;
  const next = { ...m, author };
  authored.set(m, next);
  return next;
}

function withBody(held: Message, body: MessageBody, seq: number): Message {
  if (body.deleted) return { ...held, text: '', editedAt: body.editedAt, deleted: true, mentions: [], reactions: [], version: seq };
  return { ...held, text: body.text, editedAt: body.editedAt, deleted: false, mentions: body.mentions, version: seq };
}

/** A reaction set after one event: `count` is the server's, the listed users ours. */
function react(reactions: readonly Reaction[], emoji: string, userId: number, count: number, added: boolean): Reaction[] {
  const out: Reaction[] = [];
  let found = false;
  for (const r of reactions) {
    if (r.emoji !== emoji) {
      out.push(r);
      continue;
    }
    found = true;
    if (count <= 0) continue;
    const users = r.users.filter((u) => u !== userId);
    if (added && users.length < LIMITS.reactionUsersListed) users.push(userId);
    out.push({ emoji, count, users });
  }
  if (!found && count > 0) out.push({ emoji, count, users: added ? [userId] : [] });
  return out;
}

/** Insert a membership event in seq order; one already held (from a page or live) is not added again. */
function addNotice(notices: MembershipEvent[], e: MembershipEvent): void {
  let i = notices.length;
  while (i > 0 && notices[i - 1]!.seq > e.seq) i--;
  if (i > 0 && notices[i - 1]!.seq === e.seq) return;
  notices.splice(i, 0, e);
}

/** Messages and membership events by seq; consecutive membership events fold into one item. */
function buildTimeline(messages: readonly Message[], notices: readonly MembershipEvent[]): TimelineItem[] {
  const items: TimelineItem[] = [];
  let run: MembershipEvent[] | null = null;
  let n = 0;
  const flush = () => {
    if (run) items.push({ kind: 'membership', key: `e:${run[0]!.seq}`, events: run });
    run = null;
  };
  // A notice older than the oldest message held is still in its place: notices come live (after the
  // room's baseline, from where every message is held) or with a page (within the span of the log
  // whose messages the page holds). Older messages, once loaded, go above it.
  for (const m of messages) {
    while (n < notices.length && notices[n]!.seq < m.seq) (run ??= []).push(notices[n++]!);
    flush();
    items.push({ kind: 'message', key: `m:${m.id}`, message: m });
  }
  while (n < notices.length) (run ??= []).push(notices[n++]!);
  flush();
  return items;
}

/**
 * One line for a run of membership events: "Ana, Bo and 12 others joined", "Ana joined; Bo left".
 * Each person counts once per verb, at their last event of the run. `everyone`: name them all (for
 * a tooltip on the folded line).
 */
export function describeMembership(events: readonly MembershipEvent[], selfId?: number, everyone = false): string {
  const verbs: Array<[string, string[]]> = [];
  const add = (verb: string, name: string) => {
    let entry = verbs.find(([v]) => v === verb);
    if (!entry) verbs.push((entry = [verb, []]));
    if (!entry[1].includes(name)) entry[1].push(name);
  };
  for (const e of events) {
    const name = e.user.id === selfId ? 'You' : e.user.username;
    if (e.kind === 'member_joined') add('joined', name);
    else if (e.kind === 'member_invited') add('were added', name);
    else if (e.kind === 'member_left') add('left', name);
    else add('were removed', name);
  }
  return verbs
    .map(([verb, names]) => {
      const v = names.length === 1 && names[0] !== 'You' ? verb.replace('were ', 'was ') : verb;
      return `${everyone ? listAll(names) : listNames(names)} ${v}`;
    })
    .join('; ');
}

function listAll(names: readonly string[]): string {
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

function listNames(names: readonly string[]): string {
  if (names.length === 1) return names[0]!;
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`;
}

/**
 * Who is typing, as a line: "Ana is typing…", "Ana and Bo are typing…", "Several people are
 * typing…"; '' when nobody is.
 */
export function describeTyping(users: readonly PublicUser[]): string {
  if (users.length === 0) return '';
  if (users.length === 1) return `${users[0]!.username} is typing…`;
  if (users.length === 2) return `${users[0]!.username} and ${users[1]!.username} are typing…`;
  return 'Several people are typing…';
}

function samePending(a: readonly PendingChange[], b: readonly PendingChange[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.clientId !== y.clientId || x.state !== y.state || x.error !== y.error) return false;
  }
  return true;
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
    if (typeof report === 'function') report(err);
    else
      setTimeout(() => {
        throw err;
      }, 0);
  }
}
