import { ChatterApiError, describeTyping, type ChatterApi, type ChatterClient, type PendingMessage, type RoomView, type StatusEvent } from '@chatter/client';
import { CLOSE_CODES, DEFAULT_ROOM, LIMITS, codePointLength, type Message, type MyRoom, type NotifyLevel, type PublicUser, type RoomResponse, type SelfUser } from '@chatter/protocol';
import { findMyRoom, findPublicRoom, findUsers, orderRooms, roomLabel } from '../rooms.js';
import { sanitize, type ColorMode, type Span, type Style } from '../term/ansi.js';
import { command } from '../invocation.js';
import { looksLikeLink, messageLink, parseMessageLink } from '../links.js';
import type { Key } from '../term/keys.js';
import { Screen, type ScreenOutput } from '../term/screen.js';
import { stringWidth } from '../term/width.js';
import { wrapSpans } from '../term/wrap.js';
import { builtinCommands, CommandRegistry, type CommandContext, type MessageRef, type RoomEntry } from './commands.js';
import { countBadge, levelMark, roomCommands } from './room-commands.js';
import { commonPrefix, complete, type Completion } from './completion.js';
import { barRow, linesAfter, messageSpans, paneLines, TEXT_INDENT, totalLines } from './layout.js';
import { LineEditor } from './line-editor.js';
import { RoomLog, recentAuthors, type Entry } from './room-log.js';

/** Messages fetched per Page Up at the top of what is loaded (and around a linked message). */
const OLDER_PAGE = 50;
/** Said of a link to a message that is not there, or in a room the user may not see: the web app's words. */
const MISSING_MESSAGE = 'That message isn’t there, or you can’t see it.';
const PROMPT = '> ';
const MIN_COLS = 20;
const MIN_ROWS = 5;

export interface ChatAppOptions {
  client: ChatterClient;
  /** REST, for what the socket does not do: joining, leaving, DMs, creating, inviting, member lists. */
  api: ChatterApi;
  /** Where output goes (the terminal): needs `columns` and `rows`. */
  output: ScreenOutput;
  color: ColorMode;
  /** Shown in the status bar, e.g. "127.0.0.1:8000". */
  serverLabel: string;
  /** The server's URL as the CLI normalizes it (`normalizeServerUrl`): where the web app is, for message links. */
  server: string;
  /** The room to open: a name, `@people`, an id or a message link (resolved once the server said hello). */
  room?: string;
  /** Called once when the user quits (/quit, Ctrl+C, Ctrl+D on an empty line). */
  onQuit: () => void;
  /** Extra commands (a later issue's /join, /dm...). */
  commands?: CommandRegistry;
}

/** What each room keeps while another one is open. */
interface RoomUi {
  scroll: number;
  unseen: number;
  draft: { text: string; cursor: number };
}

interface TabState {
  completion: Completion;
  index: number;
  /** Text before the cursor right after the last Tab, to notice when the user typed something else. */
  after: string;
}

/**
 * The full-screen chat: state (rooms, connection status, the input line, scrolling), key
 * handling, and a frame built from that state on every change. It talks to the server only
 * through the SDK's ChatterClient.
 */
export class ChatApp implements CommandContext {
  readonly commands: CommandRegistry;
  private readonly client: ChatterClient;
  private readonly screen: Screen;
  private readonly logs = new Map<string, RoomLog>();
  private readonly editor = new LineEditor();
  private currentRoom: string;
  /** The room asked for on the command line, until the first hello resolves it. */
  private wantedRoom: string | null;
  private readonly roomUis = new Map<string, RoomUi>();
  private unsubscribeRoom: () => void = () => {};
  private showIds = false;
  /** The message a link opened, marked until the reader goes back to the latest or elsewhere. */
  private marked: number | null = null;
  private loadingNewer = false;
  /** Rooms whose newest page (`id`) or members (`members id`) are being fetched. */
  private readonly loading = new Set<string>();
  private self: SelfUser | null = null;
  private status: StatusEvent = { status: 'connecting', attempt: 0 };
  /** True once the connection has been lost, until it is back (to announce it once per outage). */
  private outage = false;
  private everOnline = false;
  private sessionEnded: string | null = null;
  /** Lines scrolled up from the bottom of the message pane. */
  private scroll = 0;
  /** Messages that arrived while scrolled up. */
  private unseen = 0;
  private hint: { text: string; until: number } | null = null;
  private tab: TabState | null = null;
  private ctrlCArmed = false;
  private quitConfirmed = false;
  private renderPending = false;
  private ticker: NodeJS.Timeout | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  private closed = false;

  constructor(private readonly opts: ChatAppOptions) {
    this.client = opts.client;
    this.screen = new Screen(opts.output, opts.color);
    this.currentRoom = DEFAULT_ROOM;
    this.wantedRoom = opts.room && opts.room !== DEFAULT_ROOM ? opts.room : null;
    this.commands = opts.commands ?? new CommandRegistry();
    for (const command of [...builtinCommands(), ...roomCommands()]) if (!this.commands.get(command.name)) this.commands.register(command);
    this.subscribe();
    this.watchRoom();
  }

  // ---- CommandContext ----

  get room(): string {
    return this.currentRoom;
  }

  get roomLabel(): string {
    const info = this.view()?.info;
    return info ? roomLabel(info, this.self?.id) : `#${this.currentRoom}`;
  }

  get username(): string | undefined {
    return this.self?.username;
  }

  send(text: string): void {
    const trimmed = text.trim();
    if (!trimmed) return;
    if (this.sessionEnded) {
      this.notice(`Not sent: ${this.sessionEnded}`, 'error');
      return;
    }
    const max = this.client.messageMaxChars;
    const length = codePointLength(trimmed);
    if (length > max) {
      this.notice(`Message too long: ${length} characters, the limit is ${max}. Nothing was sent.`, 'error');
      return;
    }
    try {
      this.client.send(this.currentRoom, trimmed);
    } catch (error) {
      this.notice(error instanceof ChatterApiError ? error.message : String(error), 'error');
      return;
    }
    // What one sends shows at the room's end: back there from a window far up.
    this.toLatest();
  }

  editMessage(ref: MessageRef | null, text: string): void {
    const target = ref ? this.messageAt(ref) : this.lastOwnMessage();
    if (!target) return this.notice(ref ? this.noSuchMessage(ref) : 'You have no message here to edit.', 'error');
    if (target.author.id !== this.self?.id) return this.notice('You can only edit your own messages.', 'error');
    this.change(() => this.client.edit(this.currentRoom, target.id, text));
  }

  deleteMessage(ref: MessageRef | null): void {
    const target = ref ? this.messageAt(ref) : this.lastOwnMessage();
    if (!target) return this.notice(ref ? this.noSuchMessage(ref) : 'You have no message here to delete.', 'error');
    const role = this.view()?.info.role;
    if (target.author.id !== this.self?.id && role !== 'owner' && role !== 'admin') return this.notice("Only the room's owner and admins delete other people's messages.", 'error');
    this.change(() => this.client.delete(this.currentRoom, target.id));
  }

  react(emoji: string, ref: MessageRef | null = null): void {
    const target = this.messageAt(ref ?? { nth: 1 });
    if (!target) return this.notice(ref ? this.noSuchMessage(ref) : 'No message here to react to.', 'error');
    const mine = this.self !== null && target.reactions.some((r) => r.emoji === emoji && r.users.includes(this.self!.id));
    this.change(() => this.client.react(this.currentRoom, target.id, emoji, !mine));
  }

  reactionsOf(ref: MessageRef): { author: string; text: string; reactions: Array<{ emoji: string; count: number; names: string[] }> } | null {
    const target = this.messageAt(ref);
    if (!target) return null;
    const members = this.view()?.members;
    const nameOf = (id: number): string | undefined => (id === this.self?.id ? 'you' : this.client.store.profile(id)?.username ?? members?.find((m) => m.user.id === id)?.user.username);
    return {
      author: target.author.id === this.self?.id ? 'you' : target.author.username,
      text: target.text,
      reactions: target.reactions.map((r) => ({ emoji: r.emoji, count: r.count, names: r.users.flatMap((id) => nameOf(id) ?? []) })),
    };
  }

  linkTo(ref: MessageRef): { link: string; author: string; text: string } | null {
    const target = this.messageAt(ref);
    if (!target) return null;
    return { link: messageLink(this.opts.server, this.currentRoom, target.id), author: target.author.id === this.self?.id ? 'you' : target.author.username, text: target.text };
  }

  async openLink(text: string): Promise<void> {
    const link = parseMessageLink(text);
    if (!link.ok) return this.notice(link.reason, 'error');
    if (link.server !== this.opts.server) return this.notice(`That link is to ${link.server}; this chat is connected to ${this.opts.server}.`, 'error');
    // A room the user is not in: whether it exists is not theirs to know, so the words of a missing message.
    if (!this.client.store.room(link.room)) return this.notice(MISSING_MESSAGE, 'error');
    this.open(link.room);
    const room = link.room;
    const held = (): boolean => this.client.store.room(room)?.messages.some((m) => m.id === link.messageId) ?? false;
    if (!held()) {
      try {
        await this.client.loadAround(room, link.messageId, OLDER_PAGE);
      } catch (error) {
        if (room !== this.currentRoom) return;
        const code = error instanceof ChatterApiError ? error.code : '';
        if (code === 'offline') return this.notice('Cannot open a link while offline: try again once connected.', 'error');
        const missing = code === 'message_not_found' || code === 'room_not_found' || code === 'validation_failed';
        return this.notice(missing ? MISSING_MESSAGE : `Could not load that message: ${(error as Error).message}`, 'error');
      }
    }
    // The reader moved on while it loaded: leave them where they are.
    if (room !== this.currentRoom || !held()) return;
    this.marked = link.messageId;
    this.scrollToMessage(link.messageId);
    if (this.client.store.message(link.messageId)?.deleted) this.notice('That message was deleted.', 'info');
    this.requestRender();
  }

  toggleIds(): boolean {
    this.showIds = !this.showIds;
    this.requestRender();
    return this.showIds;
  }

  /** The nth newest message of the open room still shown (tombstones are skipped), or one by id. */
  private messageAt(ref: MessageRef): Message | undefined {
    const messages = this.view()?.messages ?? [];
    if ('id' in ref) return messages.find((m) => m.id === ref.id && !m.deleted);
    let n = ref.nth;
    for (let i = messages.length - 1; i >= 0; i--) {
      if (!messages[i]!.deleted && --n === 0) return messages[i];
    }
    return undefined;
  }

  private noSuchMessage(ref: MessageRef): string {
    return 'id' in ref ? `No message #${ref.id} in this room (or it was deleted). /ids shows ids.` : `There are fewer than ${ref.nth} messages here.`;
  }

  private lastOwnMessage(): Message | undefined {
    const messages = this.view()?.messages ?? [];
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i]!;
      if (m.author.id === this.self?.id && !m.deleted) return m;
    }
    return undefined;
  }

  /** An edit, delete or reaction: refused locally (a bad emoji, an empty text) as a notice. */
  private change(fn: () => void): void {
    if (this.sessionEnded) return this.notice(`Not done: ${this.sessionEnded}`, 'error');
    try {
      fn();
    } catch (error) {
      this.notice(error instanceof ChatterApiError ? error.message : String(error), 'error');
    }
  }

  notice(text: string, tone: 'info' | 'error' | 'output' = 'info'): void {
    this.addNotice(this.currentRoom, text, tone);
    // Command output should be seen: bring the pane to the bottom.
    if (tone !== 'info') this.scrollToBottom();
    this.requestRender();
  }

  online(room = this.currentRoom): PublicUser[] {
    return this.client.online(room);
  }

  onlineCount(room = this.currentRoom): number {
    return this.client.onlineCount(room);
  }

  /** The room's members first (then who is online, recent authors), then people of the user's other rooms. */
  knownUsers(): string[] {
    const here = new Set<string>();
    const view = this.view();
    for (const m of view?.members ?? []) here.add(m.user.username);
    for (const u of this.online()) here.add(u.username);
    for (const n of recentAuthors(view)) here.add(n);
    for (const u of view?.info.members ?? []) here.add(u.username);
    const elsewhere = new Set<string>();
    for (const room of this.client.store.rooms()) {
      if (room.id === this.currentRoom) continue;
      const other = this.client.store.room(room.id);
      for (const m of other?.members ?? []) elsewhere.add(m.user.username);
      for (const u of room.members) elsewhere.add(u.username);
      for (const n of recentAuthors(other, 20)) elsewhere.add(n);
    }
    const byName = (a: string, b: string) => a.localeCompare(b);
    return [...[...here].sort(byName), ...[...elsewhere].filter((n) => !here.has(n)).sort(byName)];
  }

  // ---- Rooms ----

  /** The user's rooms in a stable order (channels by name, then DMs), as Alt+1..9 numbers them. */
  roomList(): RoomEntry[] {
    const selfId = this.self?.id;
    return orderRooms(this.client.store.rooms(), selfId).map((r, i) => ({
      n: i + 1,
      id: r.id,
      label: roomLabel(r, selfId),
      topic: r.topic,
      kind: r.kind,
      unread: r.id === this.currentRoom ? this.client.store.room(r.id)?.info.unread ?? r.unread : r.unread,
      mentions: r.mentions,
      current: r.id === this.currentRoom,
      muted: r.notify === 'none',
      notify: r.notify,
    }));
  }

  notifyLevel(): { level: NotifyLevel; kind: 'channel' | 'dm' } | null {
    const info = this.client.store.rooms().find((r) => r.id === this.currentRoom);
    return info ? { level: info.notify, kind: info.kind } : null;
  }

  async setNotify(level: NotifyLevel): Promise<void> {
    const room = this.currentRoom;
    await this.rest(() => this.client.setNotify(room, level), undefined);
  }

  switchRoom(ref: string): boolean {
    const list = this.roomList();
    const n = /^\d+$/.test(ref.trim()) ? Number(ref) : NaN;
    const byNumber = Number.isInteger(n) ? list[n - 1] : undefined;
    if (byNumber) {
      this.open(byNumber.id);
      return true;
    }
    const match = findMyRoom(this.client.store.rooms(), ref, this.self?.id);
    if (match.kind === 'one') {
      this.open(match.room.id);
      return true;
    }
    if (match.kind === 'many') {
      this.notice(`Several rooms are called "${ref}": ${match.rooms.map((r) => r.id).join(', ')}. Use an id.`, 'error');
      return true;
    }
    return false;
  }

  async browseRooms(q: string): Promise<Array<{ id: string; name: string; topic: string; memberCount: number; joined: boolean }>> {
    return this.rest(async () => (await this.opts.api.publicRooms({ ...(q && { q }), limit: 50 })).rooms, []);
  }

  async joinRoom(ref: string): Promise<void> {
    if (this.switchRoom(ref)) return;
    await this.rest(async () => {
      const room = await findPublicRoom(this.opts.api, ref);
      if (!room) return this.notice(`No public room "${ref}". /rooms public lists them; a private room needs an invitation.`, 'error');
      const joined = await this.opts.api.joinRoom(room.id);
      this.arrive(joined, `Joined #${joined.room.name}.`);
    }, undefined);
  }

  async leaveRoom(): Promise<void> {
    const info = this.view()?.info;
    if (!info) return;
    if (info.kind === 'dm') return this.notice('A DM cannot be left. Alt+n or /switch to go elsewhere.', 'error');
    if (info.id === DEFAULT_ROOM) return this.notice(`Everyone stays in #${info.name}.`, 'error');
    const label = roomLabel(info);
    await this.rest(async () => {
      await this.opts.api.leaveRoom(info.id);
      // The server's room_left removes it from the store too; do not wait for it to move on.
      this.client.store.leaveRoom(info.id);
      this.client.store.commit();
      this.open(DEFAULT_ROOM);
      this.notice(`You left ${label}.`);
    }, undefined);
  }

  async openDm(usernames: string[]): Promise<void> {
    await this.rest(async () => {
      const users = (await findUsers(this.opts.api, usernames)).filter((u) => u.id !== this.self?.id);
      if (users.length === 0) return this.notice('A DM needs someone other than you: /dm <user>.', 'error');
      if (users.length > LIMITS.dmMaxUsers - 1) return this.notice(`A group DM has at most ${LIMITS.dmMaxUsers} people, you included.`, 'error');
      this.arrive(await this.opts.api.openDm(users.map((u) => u.id)), null);
    }, undefined);
  }

  async createRoom(name: string, visibility: 'public' | 'private', topic?: string): Promise<void> {
    await this.rest(async () => {
      const res = await this.opts.api.createRoom({ name, visibility, ...(topic && { topic }) });
      const { room } = res;
      this.arrive(res, `Created ${visibility === 'private' ? 'the private room' : ''}#${room.name}${visibility === 'private' ? ': /invite <user> to add people' : ''}.`.replace('room#', 'room #'));
    }, undefined);
  }

  async invite(usernames: string[]): Promise<void> {
    const info = this.view()?.info;
    if (!info) return;
    if (info.kind === 'dm') return this.notice("A DM's people are fixed: /dm them all to start a group.", 'error');
    await this.rest(async () => {
      const users = await findUsers(this.opts.api, usernames);
      for (const user of users) await this.opts.api.addMember(info.id, user.id);
      this.notice(`Added ${users.map((u) => u.username).join(', ')} to ${roomLabel(info)}.`);
    }, undefined);
  }

  /** A REST call whose failure is a notice, never a crash. */
  private async rest<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      this.notice(error instanceof ChatterApiError ? error.message : String(error), 'error');
      return fallback;
    }
  }

  /**
   * Open a room the user just entered. The server's `room_joined` puts it in the store; the REST
   * answer can come first, so the room is entered in the store from the answer too, before the
   * screen opens it: the header names the room from the first frame on, never by its id.
   */
  private arrive(res: RoomResponse, notice: string | null): void {
    const { room } = res;
    const id = room.id;
    this.client.joined(res);
    this.open(id);
    // After what the room held when the answer was written, not before its older messages.
    if (notice) this.log(id).addEvent(notice, 'info', new Date().toISOString(), Math.max(room.lastSeq, this.client.store.applied(id)));
    this.requestRender();
  }

  /** Switch the screen to room `id`, keeping the room left's scroll position and draft. */
  private open(id: string): void {
    if (id === this.currentRoom) return;
    this.marked = null;
    this.roomUis.set(this.currentRoom, { scroll: this.scroll, unseen: this.unseen, draft: { text: this.editor.text, cursor: this.editor.cursorIndex } });
    const ui = this.roomUis.get(id);
    this.currentRoom = id;
    this.scroll = ui?.scroll ?? 0;
    this.unseen = ui?.unseen ?? 0;
    this.editor.set(ui?.draft.text ?? '', ui?.draft.cursor);
    this.tab = null;
    this.placeDivider(id);
    this.watchRoom();
    this.load(id);
    this.markSeen();
    this.requestRender();
  }

  /** Opening a room with unread messages: a "new messages" line above the first of them. */
  private placeDivider(id: string): void {
    const info = this.client.store.room(id)?.info;
    this.log(id).setDivider(info && info.unread > 0 ? info.readSeq : null);
  }

  /** The next or previous room of the list (Ctrl+N / Ctrl+P), wrapping around. */
  private cycleRoom(step: 1 | -1): void {
    const list = this.roomList();
    if (list.length < 2) return this.flashHint('You are in one room only: /rooms public, /join, /dm.');
    const at = list.findIndex((r) => r.current);
    this.open(list[(at + step + list.length) % list.length]!.id);
  }

  /** Load what the open room needs to be shown: its newest messages, its members (for completion). */
  private load(id: string): void {
    const view = this.client.store.room(id);
    if (!view || this.sessionEnded) return;
    if (!view.loaded && !this.log(id).loadingOlder && !this.loading.has(id)) {
      this.loading.add(id);
      void this.client.loadRoom(id, OLDER_PAGE).finally(() => this.loading.delete(id)).catch((error: unknown) => {
        // Offline: the next hello loads the open room.
        if (error instanceof ChatterApiError && error.code === 'offline') return;
        this.notice(`Could not load ${roomLabel(view.info, this.self?.id)}: ${(error as Error).message}`, 'error');
      });
    }
    if (view.members === null && !this.loading.has(`members ${id}`)) {
      this.loading.add(`members ${id}`);
      // The SDK keeps the list current from here on (and loads it again if it has to drop it).
      void this.client.loadMembers(id).finally(() => this.loading.delete(`members ${id}`)).catch(() => {});
    }
  }

  async loadOlder(count: number): Promise<number> {
    const log = this.log(this.currentRoom);
    if (log.loadingOlder) return 0;
    log.loadingOlder = true;
    this.requestRender();
    const room = this.currentRoom;
    const held = () => this.client.store.room(room)?.messages.length ?? 0;
    const start = held();
    try {
      while (held() - start < count && (this.client.store.room(room)?.hasMoreOlder ?? false)) {
        const before = held();
        await this.client.loadOlder(room, Math.min(LIMITS.historyPageMax, count - (held() - start)));
        if (held() === before) break;
        this.requestRender();
      }
    } catch (error) {
      const offline = error instanceof ChatterApiError && error.code === 'offline';
      this.notice(offline ? 'Cannot load older messages while offline.' : `Could not load older messages: ${(error as Error).message}`, 'error');
    } finally {
      log.loadingOlder = false;
      this.requestRender();
    }
    return held() - start;
  }

  reconnect(): void {
    if (this.status.status === 'online') return this.notice('Already connected.');
    if (this.sessionEnded) return this.notice(`The session has ended: quit and run \`${command('login')}\`.`, 'error');
    this.client.retryNow();
  }

  quit(): void {
    if (this.closed) return;
    // The outbox lives in memory: leaving now would drop what is still waiting to go out. Online,
    // it usually drains within moments, so wait for it; offline, ask for a second /quit.
    const unsent = () => this.client.pending().filter((p) => p.state !== 'failed').length;
    if (unsent() === 0 || this.quitConfirmed) return this.close();
    this.quitConfirmed = true;
    const warn = () => {
      const n = unsent();
      if (n === 0) return this.close();
      this.notice(`${n} message${n === 1 ? ' is' : 's are'} not sent yet and would be lost. Quit again to leave anyway.`, 'error');
    };
    if (this.status.status !== 'online') return warn();
    this.flashHint('Sending your last message before quitting…');
    const timer = setTimeout(() => {
      off();
      warn();
    }, 3000);
    const off = this.client.on('outbox', () => {
      if (unsent() > 0) return;
      clearTimeout(timer);
      off();
      this.close();
    });
    this.unsubscribe.push(off);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    for (const off of this.unsubscribe.splice(0)) off();
    this.unsubscribeRoom();
    this.opts.onQuit();
  }

  // ---- Wiring to the SDK ----

  private log(room: string): RoomLog {
    let log = this.logs.get(room);
    if (!log) this.logs.set(room, (log = new RoomLog(room, () => this.self?.id)));
    return log;
  }

  /** The open room as the SDK's store holds it. */
  private view(): RoomView | null {
    return this.client.store.room(this.currentRoom);
  }

  private entries(): Entry[] {
    return this.log(this.currentRoom).entries(this.view());
  }

  /** A line of this terminal's own (a connection change, command output), after the newest message. */
  private addNotice(room: string, text: string, tone: 'info' | 'error' | 'output'): void {
    this.log(room).addEvent(text, tone, new Date().toISOString(), this.client.store.applied(room));
  }

  private subscribe(): void {
    const on = this.unsubscribe;
    const c = this.client;
    on.push(c.on('status', (s) => this.onStatus(s)));
    on.push(
      c.on('hello', (hello) => {
        this.self = hello.user;
        if (this.wantedRoom !== null) {
          const wanted = this.wantedRoom;
          this.wantedRoom = null;
          if (looksLikeLink(wanted)) void this.openLink(wanted);
          else if (!this.switchRoom(wanted)) void this.joinRoom(wanted);
        }
        if (!this.view()) this.open(DEFAULT_ROOM);
        else if (!this.everOnline) this.placeDivider(this.currentRoom);
        // Recently active rooms come with the connection; another room is loaded on opening.
        this.load(this.currentRoom);
        this.requestRender();
      }),
    );
    // The room list: other rooms' counts in the status bar; the open room gone (left, removed).
    on.push(
      c.store.subscribeRooms(() => {
        if (!this.view() && this.self && this.currentRoom !== DEFAULT_ROOM && c.store.room(DEFAULT_ROOM)) {
          const gone = this.currentRoom;
          this.open(DEFAULT_ROOM);
          this.roomUis.delete(gone);
          this.notice('You are no longer in that room.');
        }
        // The open room can arrive after it was opened (room_joined after the REST answer).
        this.load(this.currentRoom);
        this.requestRender();
      }),
    );
    on.push(
      c.on('message', (m) => {
        if (m.room === this.currentRoom && this.scroll > 0) this.unseen++;
      }),
    );
    on.push(c.on('outbox', () => this.requestRender()));
    on.push(
      c.on('error', (e) => {
        // Send rejections show on the message itself (outbox state `failed`); rate limits are retried.
        if (e.code === 'rate_limited') {
          this.flashHint('Slow down: the server is rate limiting; your messages will go out shortly.');
          return this.requestRender();
        }
        if (e.ref !== undefined && c.pending().some((p) => p.clientId === e.ref && p.kind === 'send')) return this.requestRender();
        this.notice(`Server: ${e.message}`, 'error');
      }),
    );
    on.push(
      c.on('session_ended', (e) => {
        this.sessionEnded =
          e.code === CLOSE_CODES.unsupported_protocol
            ? 'This server speaks another protocol version; update chatter.'
            : e.code === CLOSE_CODES.unauthorized
              ? `The server did not accept your session (expired or signed out). Quit and run \`${command('login')}\`.`
              : `Your session ended (signed out elsewhere, password changed or expired). Quit and run \`${command('login')}\`.`;
        this.notice(this.sessionEnded, 'error');
      }),
    );
  }

  /** Only the open room's changes redraw: a reaction elsewhere costs nothing here. */
  private watchRoom(): void {
    this.unsubscribeRoom();
    this.unsubscribeRoom = this.client.store.subscribeRoom(this.currentRoom, () => {
      this.markSeen();
      this.requestRender();
    });
  }

  /** At the bottom of the open room, everything in it has been seen. */
  private markSeen(): void {
    // A window that stops before the room's end (a message link) has not shown its newest messages.
    const view = this.view();
    if (this.scroll === 0 && this.status.status === 'online' && view?.loaded && !view.hasMoreNewer) this.client.markRead(this.currentRoom);
  }

  private onStatus(s: StatusEvent): void {
    const previous = this.status.status;
    this.status = s;
    if (s.status === 'online') {
      if (this.outage) this.addNotice(this.currentRoom, this.everOnline ? 'Reconnected.' : 'Connected.', 'info');
      this.outage = false;
      this.everOnline = true;
    } else if (s.status === 'reconnecting' && s.retryAt !== undefined && !this.outage) {
      // Once per outage, not once per attempt: the status bar counts the retries.
      this.outage = true;
      this.addNotice(this.currentRoom, this.describeDrop(s), this.everOnline ? 'info' : 'error');
    }
    if (previous !== s.status || s.retryAt !== undefined) this.updateTicker();
    this.requestRender();
  }

  private describeDrop(s: StatusEvent): string {
    const server = this.opts.serverLabel;
    if (!this.everOnline) {
      return s.reason === 'connect_timeout'
        ? `${server} does not answer. Retrying until it does (or /quit).`
        : `Cannot reach ${server}: is the server running? Retrying until it is (or /quit).`;
    }
    if (s.closeCode === CLOSE_CODES.going_away) return 'The server is restarting. Reconnecting…';
    if (s.closeCode === CLOSE_CODES.slow_consumer) return 'The connection fell behind. Reconnecting…';
    return 'Connection lost. Reconnecting… (messages you send now go out when it is back)';
  }

  /** A countdown in the status bar while waiting to reconnect needs a redraw every second. */
  private updateTicker(): void {
    const waiting = this.status.status === 'reconnecting' && this.status.retryAt !== undefined;
    if (waiting && !this.ticker) {
      this.ticker = setInterval(() => this.requestRender(), 1000);
      this.ticker.unref();
    } else if (!waiting && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = null;
    }
  }

  // ---- Keys ----

  handleKeys(keys: readonly Key[]): void {
    for (const key of keys) {
      if (this.closed) return;
      this.handleKey(key);
    }
    this.requestRender();
  }

  private handleKey(key: Key): void {
    const isTab = key.kind === 'key' && (key.name === 'tab' || key.name === 'backtab');
    if (!isTab) this.tab = null;
    if (!(key.kind === 'ctrl' && key.char === 'c')) this.ctrlCArmed = false;
    const e = this.editor;
    switch (key.kind) {
      case 'text':
        e.insert(sanitize(key.text, false));
        if (!e.beforeCursor.startsWith('/')) this.client.typing(this.currentRoom);
        return;
      case 'paste':
        e.insert(sanitize(key.text.replace(/\r\n?/g, '\n')));
        return;
      case 'ctrl':
        return this.handleCtrl(key.char);
      case 'alt':
        switch (key.char) {
          case 'b':
            return e.wordLeft();
          case 'f':
            return e.wordRight();
          case 'd':
            return e.killWordForward();
        }
        // Alt+1..9: room n of the list (/rooms).
        if (/^[1-9]$/.test(key.char)) {
          const room = this.roomList()[Number(key.char) - 1];
          if (room) this.open(room.id);
          else this.flashHint(`No room ${key.char}: /rooms lists yours.`);
        }
        return;
      case 'unknown':
        return;
      case 'key':
        break;
    }
    switch (key.name) {
      case 'enter':
        if (key.alt) return e.insert('\n');
        return this.submit();
      case 'backspace':
        return key.alt ? e.killWordBack() : e.backspace();
      case 'delete':
        return e.deleteForward();
      case 'left':
        return key.ctrl || key.alt ? e.wordLeft() : e.left();
      case 'right':
        return key.ctrl || key.alt ? e.wordRight() : e.right();
      case 'home':
        return key.ctrl ? this.scrollToTop() : e.home();
      case 'end':
        return key.ctrl ? this.toLatest() : e.end();
      case 'up':
        return key.shift ? this.scrollBy(1) : e.historyUp();
      case 'down':
        if (key.shift && this.scroll === 0) return this.loadNewer();
        return key.shift ? this.scrollBy(-1) : e.historyDown();
      case 'pageup':
        return this.pageUp();
      case 'pagedown':
        if (this.scroll === 0) return this.loadNewer();
        return this.scrollBy(-this.pageSize());
      case 'escape':
        return this.toLatest();
      case 'tab':
        return this.completeAtCursor(1);
      case 'backtab':
        return this.completeAtCursor(-1);
      default:
        return;
    }
  }

  private handleCtrl(char: string): void {
    const e = this.editor;
    switch (char) {
      case 'a':
        return e.home();
      case 'e':
        return e.end();
      case 'b':
        return e.left();
      case 'f':
        return e.right();
      case 'h':
        return e.backspace();
      case 'u':
        return e.killToStart();
      case 'k':
        return e.killToEnd();
      case 'w':
        return e.killWordBack();
      case 'y':
        return e.yank();
      case 'p':
        return this.cycleRoom(-1);
      case 'n':
        return this.cycleRoom(1);
      case 'l':
        this.screen.invalidate();
        return;
      case 'd':
        if (e.isEmpty) return this.quit();
        return e.deleteForward();
      case 'c':
        // With text typed, the first Ctrl+C clears the line, as in a shell; then it quits.
        if (!e.isEmpty && !this.ctrlCArmed) {
          e.submit();
          this.ctrlCArmed = true;
          this.flashHint('Line cleared. Press Ctrl+C again to quit.');
          return;
        }
        return this.quit();
      default:
        return;
    }
  }

  private submit(): void {
    const line = this.editor.submit();
    if (!line.trim()) return;
    if (line.startsWith('/') && !line.startsWith('//')) {
      void this.commands.execute(this, line).then(() => this.requestRender());
      return;
    }
    this.send(line.startsWith('//') ? line.slice(1) : line);
  }

  private completeAtCursor(direction: 1 | -1): void {
    const e = this.editor;
    if (this.tab && this.tab.after === e.beforeCursor) {
      // Repeated Tab: cycle through the candidates.
      const { completion } = this.tab;
      const n = completion.candidates.length;
      this.tab.index = (((this.tab.index + direction) % n) + n) % n;
      e.replaceBeforeCursor(completion.start, completion.candidates[this.tab.index]! + completion.suffix);
      this.tab.after = e.beforeCursor;
      return;
    }
    const completion = complete(this, e.beforeCursor);
    if (!completion) {
      this.tab = null;
      return;
    }
    const { candidates } = completion;
    if (candidates.length === 1) {
      e.replaceBeforeCursor(completion.start, candidates[0]! + completion.suffix);
      this.tab = null;
      return;
    }
    const prefix = commonPrefix(candidates);
    if (prefix.length > completion.partial.length) {
      e.replaceBeforeCursor(completion.start, prefix);
      this.flashHint(candidates.join('  '));
      this.tab = null;
      return;
    }
    // Nothing common to add: show the choices and start cycling.
    const index = direction === 1 ? 0 : candidates.length - 1;
    e.replaceBeforeCursor(completion.start, candidates[index]! + completion.suffix);
    this.flashHint(candidates.join('  '));
    this.tab = { completion, index, after: e.beforeCursor };
  }

  private flashHint(text: string, ms = 4000): void {
    this.hint = { text, until: Date.now() + ms };
    setTimeout(() => this.requestRender(), ms + 10).unref();
    this.requestRender();
  }

  // ---- Scrolling ----

  private paneHeight(): number {
    return Math.max(1, this.screen.rows - 2);
  }

  private pageSize(): number {
    return Math.max(1, this.paneHeight() - 2);
  }

  private pendingLines(width: number): Span[][] {
    const lines: Span[][] = [];
    for (const item of this.client.pending()) {
      if (item.room !== this.currentRoom || item.kind !== 'send') continue;
      lines.push(...this.pendingEntry(item, width));
    }
    return lines;
  }

  private pendingEntry(item: PendingMessage, width: number): Span[][] {
    const author = { id: this.self?.id ?? 0, username: this.self?.username ?? 'you', avatarUrl: null };
    const failed = item.state === 'failed';
    const marker: Span = failed ? { text: '  ✗   ', style: { fg: 'red', bold: true } } : { text: '  …   ', style: { dim: true } };
    const spans = messageSpans({ author, text: item.text, createdAt: item.createdAt }, this.self?.username, marker).map((s, i) =>
      i === 0 ? s : { text: s.text, style: { ...s.style, dim: true } },
    );
    if (failed) spans.push({ text: `  (not sent: ${sanitize(item.error ?? 'refused', false)})`, style: { fg: 'red' } });
    return wrapSpans(spans, width, TEXT_INDENT);
  }

  /** Marks the top of the room once every older message is loaded. */
  private headLines(): Span[][] {
    const view = this.view();
    if (!view?.loaded || view.hasMoreOlder) return [];
    const label = roomLabel(view.info, this.self?.id);
    const text = view.messages.length === 0 ? `No messages in ${label} yet. Say hello!` : `This is the start of ${label}.`;
    return [[{ text: `  ${text}`, style: { dim: true } }]];
  }

  /** Scrolled up, the pane is one row shorter: the "more below" line sits under it. */
  private maxScroll(height = this.paneHeight() - 1): number {
    const cols = this.screen.cols;
    const total = totalLines(this.entries(), this.headLines(), this.pendingLines(cols), cols, this.self?.username, this.showIds);
    return Math.max(0, total - height);
  }

  /** Scroll so that message `id` is in the middle of the pane (the pane as it is when scrolled up). */
  private scrollToMessage(id: number): void {
    const entries = this.entries();
    const index = entries.findIndex((e) => e.kind === 'message' && e.id === id);
    if (index < 0) return;
    const cols = this.screen.cols;
    const below = linesAfter(entries, index, this.pendingLines(cols), cols, this.self?.username, this.showIds);
    const own = totalLines([entries[index]!], [], [], cols, this.self?.username, this.showIds) - 1;
    const height = this.paneHeight() - 1;
    this.scroll = Math.max(0, Math.min(this.maxScroll(), below - Math.floor((height - own) / 2)));
    this.unseen = 0;
  }

  /** Page Down at the bottom of a window that stops before the room's end: the next page, a screen further. */
  private loadNewer(): void {
    const room = this.currentRoom;
    if (this.loadingNewer || !this.view()?.hasMoreNewer || this.status.status !== 'online') return;
    this.loadingNewer = true;
    const cols = this.screen.cols;
    const lines = () => totalLines(this.entries(), this.headLines(), this.pendingLines(cols), cols, this.self?.username, this.showIds);
    const before = lines();
    void this.client
      .loadNewer(room, OLDER_PAGE)
      .then(
        () => {
          // The pane is anchored to the bottom: keep the lines read in view, one page on.
          if (room === this.currentRoom) this.scroll = Math.max(0, lines() - before - this.pageSize());
          this.markSeen();
        },
        (error: unknown) => this.notice(`Could not load newer messages: ${(error as Error).message}`, 'error'),
      )
      .finally(() => {
        this.loadingNewer = false;
        this.requestRender();
      });
  }

  /** Back to the room's newest message, from a window far back too (Esc, sending). */
  private toLatest(): void {
    this.marked = null;
    this.scrollToBottom();
    const room = this.currentRoom;
    if (!this.view()?.hasMoreNewer) return;
    void this.client.jumpToLatest(room, OLDER_PAGE).then(
      () => {
        this.markSeen();
        this.requestRender();
      },
      (error: unknown) => this.notice(`Could not load the latest messages: ${(error as Error).message}`, 'error'),
    );
  }

  private scrollBy(lines: number): void {
    this.scroll = Math.max(0, Math.min(this.maxScroll(), this.scroll + lines));
    if (this.scroll === 0) {
      this.unseen = 0;
      this.markSeen();
    }
  }

  private pageUp(): void {
    this.scrollBy(this.pageSize());
    const log = this.log(this.currentRoom);
    // Within a page of the top of what is loaded: fetch the page before the oldest message. The
    // view is anchored to the bottom, so older lines arriving above it do not move it.
    if (this.scroll + this.pageSize() >= this.maxScroll() && (this.view()?.hasMoreOlder ?? false) && !log.loadingOlder) {
      const atTop = this.scroll >= this.maxScroll();
      void this.loadOlder(OLDER_PAGE).then(() => {
        if (atTop) this.scrollBy(this.pageSize());
        this.requestRender();
      });
    }
  }

  scrollToTop(): void {
    this.scroll = this.maxScroll();
    this.requestRender();
  }

  private scrollToBottom(): void {
    this.scroll = 0;
    this.unseen = 0;
    this.markSeen();
  }

  // ---- Drawing ----

  /** Redraw after the current burst of events (many history messages cost one frame). */
  requestRender(): void {
    if (this.renderPending || this.closed) return;
    this.renderPending = true;
    setImmediate(() => {
      this.renderPending = false;
      if (!this.closed) this.render();
    });
  }

  /** The terminal changed size: repaint everything. */
  resized(): void {
    this.screen.invalidate();
    this.scroll = Math.min(this.scroll, this.maxScroll());
    this.render();
  }

  redraw(): void {
    this.screen.invalidate();
    this.render();
  }

  render(): void {
    const cols = this.screen.cols;
    const rows = this.screen.rows;
    if (cols < MIN_COLS || rows < MIN_ROWS) {
      this.screen.draw([[{ text: 'Terminal too small' }], [{ text: `(${cols}x${rows})` }]], null);
      return;
    }
    const frame: Span[][] = [this.statusBar(cols)];
    // A hint or the "more below" notice takes its own row above the input, hiding no message.
    const overlay = this.overlayLine();
    const height = this.paneHeight() - (overlay ? 1 : 0);
    this.scroll = Math.min(this.scroll, this.maxScroll(height));
    const lines = paneLines(this.entries(), this.headLines(), this.pendingLines(cols), cols, this.self?.username, this.scroll, height, this.showIds, this.marked);
    frame.push(...Array.from({ length: height - lines.length }, () => [] as Span[]), ...lines);
    if (overlay) frame.push(barRow(overlay, [], cols, { dim: true, inverse: true }));
    const input = this.editor.render(cols - stringWidth(PROMPT) - 1);
    const promptStyle: Style = this.status.status === 'online' ? { bold: true } : { dim: true };
    frame.push([
      { text: input.scrolledLeft ? '<' : PROMPT.slice(0, 1), style: promptStyle },
      { text: PROMPT.slice(1) },
      { text: input.text },
      ...(input.scrolledRight ? [{ text: '>', style: { dim: true } as Style }] : []),
    ]);
    this.screen.draw(frame, { row: rows - 1, col: stringWidth(PROMPT) + input.cursorCol });
  }

  private overlayLine(): Span[] | null {
    if (this.log(this.currentRoom).loadingOlder) return [{ text: ' Loading older messages…' }];
    if (this.loadingNewer) return [{ text: ' Loading newer messages…' }];
    if (this.hint && this.hint.until > Date.now()) return [{ text: ` ${this.hint.text}` }];
    this.hint = null;
    if (this.scroll > 0) {
      const news = this.unseen > 0 ? `${this.unseen} new message${this.unseen === 1 ? '' : 's'} below · ` : '';
      return [{ text: ` ↓ ${news}PgDn or Esc to jump to the latest` }];
    }
    if (this.view()?.hasMoreNewer) return [{ text: ' ↓ Newer messages not loaded · PgDn loads them, Esc jumps to the latest' }];
    const typing = describeTyping(this.view()?.typing ?? []);
    return typing ? [{ text: ` ${sanitize(typing, false)}` }] : null;
  }

  private statusBar(cols: number): Span[] {
    const users = this.online()
      .map((u) => u.username)
      .sort((a, b) => a.localeCompare(b));
    const info = this.view()?.info;
    const left: Span[] = [{ text: ` ${sanitize(info ? roomLabel(info, this.self?.id) : `#${this.currentRoom}`, false)}`, style: { bold: true } }];
    // Its level where it is not the default ("muted", "notify: all"): /notify changes it.
    const level = info ? levelMark(info.notify, info.kind) : '';
    if (level) left.push({ text: ` (${level})` });
    if (info?.topic) left.push({ text: ` · ${sanitize(info.topic, false).replace(/\n/g, ' ')}`, style: { italic: true } });
    // Presence is only known while connected; a stale list would mislead.
    // In a large room the list is partial: the count comes from the server.
    const count = this.client.onlineCount(this.currentRoom);
    const more = count > users.length ? ` and ${count - users.length} more` : '';
    if (this.status.status === 'online') left.push({ text: `  ${count} online: ${users.join(', ')}${more}` });
    const right: Span[] = [];
    // The other rooms with something unread, mentions first: "2 #dev 3 @1 · 4 @bob 1".
    const others = this.roomList()
      .filter((r) => !r.current && ((r.unread > 0 && !r.muted) || r.mentions > 0))
      .sort((a, b) => Number(b.mentions > 0) - Number(a.mentions > 0) || a.n - b.n);
    others.forEach((r, i) => {
      const label = `${r.n <= 9 ? `${r.n} ` : ''}${sanitize(r.label, false)} ${countBadge(r.unread, r.mentions)}`;
      right.push({ text: `${i === 0 ? '' : ' · '}${label}`, style: r.mentions > 0 ? { fg: 'yellow', bold: true } : {} });
    });
    if (others.length > 0) right.push({ text: ' │ ' });
    const unsent = this.client.pending().filter((p) => p.state !== 'failed').length;
    if (unsent > 0 && this.status.status !== 'online') right.push({ text: `${unsent} unsent · ` });
    if (this.self) right.push({ text: `${this.self.username} ` });
    right.push(...this.statusSpans());
    right.push({ text: ' ' });
    return barRow(left, right, cols, { inverse: true });
  }

  private statusSpans(): Span[] {
    const s = this.status;
    switch (s.status) {
      case 'online':
        return [{ text: '● online', style: { fg: 'green', bold: true } }];
      case 'connecting':
        return [{ text: '◌ connecting…', style: { fg: 'yellow' } }];
      case 'reconnecting': {
        if (s.retryAt === undefined) return [{ text: `◌ reconnecting… (try ${Math.max(1, s.attempt)})`, style: { fg: 'yellow' } }];
        const seconds = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
        return [{ text: `○ offline · retry in ${seconds}s`, style: { fg: 'yellow', bold: true } }];
      }
      case 'offline':
        return [{ text: this.sessionEnded ? '○ signed out' : '○ offline', style: { fg: 'red', bold: true } }];
    }
  }
}

