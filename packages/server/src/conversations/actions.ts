import {
  DEFAULT_ROOM,
  LIMITS,
  isEmoji,
  mentionedUsernames,
  messageTextProblem,
  normalizeMessageText,
  type EventFrame,
  type MembershipUpdatedFrame,
  type MyRoom,
  type NotifyLevel,
  type PublicUser,
  type ReadStateFrame,
  type RoomJoinedFrame,
  type RoomLeftFrame,
  type RoomVisibility,
  type TypingNoticeFrame,
} from '@chatter/protocol';
import type { FastifyBaseLogger } from 'fastify';
import { createHash, randomBytes } from 'node:crypto';
import { Throttle } from '../auth/throttle.js';
import type { FanoutBus } from '../bus/types.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { ChangeResult, ChatStore, EventRecord, MessageRecord, RoomChange, RoomRecord, UserRoom } from '../storage/types.js';
import { publicUser } from '../users/present.js';
import { AccessCache, administrable, isDefaultRoom, memberOf, readable, writable } from './access.js';
import { presentEvent, presentMyRoom } from './present.js';

/** What a change came to: the event it stored (null when it changed nothing) and whether it was a retry. */
export interface Outcome {
  room: string;
  seq: number | null;
  duplicate: boolean;
  event: EventRecord | null;
  message?: MessageRecord;
}

/** Who asks: the user as the wire shows them (the author of their messages). */
export type Actor = PublicUser;

interface Job {
  change: RoomChange;
  actor: Actor;
  /** The member a membership change is about, as the event shows them. */
  subject?: PublicUser;
  resolve: (outcome: Outcome) => void;
  reject: (error: AppError) => void;
}

/** A user's place in line for the change queue: wait for `ready`, then queue, then `release`. */
interface Turn {
  ready: Promise<void>;
  release: () => void;
}

type ConversationsConfig = Pick<
  Config,
  'roomCreatesPerHour' | 'dmOpensPerHour' | 'membershipChangesPerHour' | 'userSearchesPerMinute' | 'reactionsPerMinute' | 'typingForwardMs' | 'messageMaxChars' | 'accessCacheEntries'
>;

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** Room ids: 12 characters of base32 (60 bits), lower case, so they match `LIMITS.roomIdPattern`. */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A new room's id: random, or, for a creation that carries an idempotency key, derived from the
 * creator and the key, so that a retry names the room the first attempt created (the store then
 * answers it as a duplicate). Ids are opaque, not secret: who may see a room is `access`'s question.
 */
export function newRoomId(createdBy?: number, clientId?: string | null, dmKey?: string | null): string {
  // A DM's people are part of what the key names: the same key for other people is another request,
  // which the store then refuses as an idempotency conflict instead of answering with the first DM.
  const bytes = clientId ? createHash('sha256').update(`room ${createdBy} ${clientId} ${dmKey ?? ''}`).digest() : randomBytes(12);
  let id = '';
  for (const b of bytes.subarray(0, 12)) id += BASE32[b & 31];
  return id;
}

/** The key that finds a DM by its people: the sorted ids, so any order opens the same DM. */
export function dmKey(userIds: number[]): string {
  return [...new Set(userIds)].sort((a, b) => a - b).join(',');
}

/**
 * The actions layer: the one place that changes rooms, produces their events and decides who
 * receives them (docs/architecture.md, "One actions layer, one authorization check"). REST routes
 * and WebSocket frames call it; each action checks `access` first.
 *
 * Every change to a room's log goes through ONE queue: the changes that arrive during one
 * event-loop turn are stored in ONE `applyChanges` transaction (group commit); only after it commits
 * is each caller answered, and only then is each event published, serialized once. One batch is in
 * flight at a time, so answers and fan-out follow commit order, which per room is seq order.
 */
export class Conversations {
  private queue: Job[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | null = null;
  private readonly roomCreations: Throttle;
  private readonly dmOpenings: Throttle;
  private readonly membershipChanges: Throttle;
  private readonly searches: Throttle;
  private readonly reactions: Throttle;
  /** Per user, the end of their lane: the turn the next action waits for (see `turn`). */
  private readonly lanes = new Map<number, Promise<void>>();
  /** `room userId` -> when their last typing notice was forwarded. Never stored. */
  private readonly typingAt = new Map<string, number>();
  private readonly typingSweep: NodeJS.Timeout;
  /** Who may write where, for the hot paths; forgotten in `commit` (see AccessCache). */
  readonly access: AccessCache;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: ChatStore,
    private readonly bus: FanoutBus,
    private readonly log: FastifyBaseLogger,
    private readonly config: ConversationsConfig,
  ) {
    this.roomCreations = new Throttle(config.roomCreatesPerHour, HOUR);
    this.dmOpenings = new Throttle(config.dmOpensPerHour, HOUR);
    this.membershipChanges = new Throttle(config.membershipChangesPerHour, HOUR);
    this.searches = new Throttle(config.userSearchesPerMinute, MINUTE);
    this.reactions = new Throttle(config.reactionsPerMinute, MINUTE);
    this.access = new AccessCache(store, config.accessCacheEntries);
    // Changes committed by other nodes (this one's own are forgotten at once, in `commit`).
    this.unsubscribe = bus.subscribe((event) => {
      if (event.kind !== 'access_changed') return;
      if (event.userId === null) this.access.forgetRoom(event.room);
      else this.access.forget(event.room, event.userId);
    });
    this.typingSweep = setInterval(() => {
      const stale = Date.now() - config.typingForwardMs;
      for (const [key, at] of this.typingAt) if (at <= stale) this.typingAt.delete(key);
    }, Math.max(1000, config.typingForwardMs));
    this.typingSweep.unref();
  }

  close(): void {
    for (const t of [this.roomCreations, this.dmOpenings, this.membershipChanges, this.searches, this.reactions]) t.close();
    clearInterval(this.typingSweep);
    this.unsubscribe();
  }

  /**
   * Validate and normalise a message's text (the protocol's rule, `normalizeMessageText`); returns
   * the text every path (ack, live fan-out, storage, history) will carry, or throws
   * validation_failed on `text`. `maxChars` is the server's setting (`CHATTER_MESSAGE_MAX_CHARS`).
   */
  static checkText(text: string, maxChars: number = LIMITS.messageMaxChars): string {
    const normalized = normalizeMessageText(text);
    const problem = messageTextProblem(normalized, maxChars);
    if (problem) throw AppError.validation({ text: problem });
    return normalized;
  }

  // ---- Messages ----

  async send(actor: Actor, roomId: string, clientId: string, text: string): Promise<Outcome> {
    const turn = this.turn(actor.id);
    try {
      const clean = Conversations.checkText(text, this.config.messageMaxChars);
      await this.access.writable(actor.id, roomId);
      const mentions = await this.mentions(clean);
      return await this.submit({ kind: 'message_created', roomId, actorId: actor.id, clientId, at: Date.now(), text: clean, mentions }, actor, undefined, turn);
    } finally {
      turn.release();
    }
  }

  /** Only the author edits a message. */
  async edit(actor: Actor, roomId: string, messageId: number, text: string, clientId: string | null): Promise<Outcome> {
    const turn = this.turn(actor.id);
    try {
      const clean = Conversations.checkText(text, this.config.messageMaxChars);
      await this.access.writable(actor.id, roomId);
      const message = await this.existing(roomId, messageId);
      if (message.authorId !== actor.id) throw new AppError('forbidden', 'Only its author can edit a message.');
      const mentions = await this.mentions(clean);
      return await this.submit({ kind: 'message_edited', roomId, actorId: actor.id, clientId, at: Date.now(), messageId, text: clean, mentions }, actor, undefined, turn);
    } finally {
      turn.release();
    }
  }

  /** The author deletes their message; the room's owner and admins delete anyone's. */
  async delete(actor: Actor, roomId: string, messageId: number, clientId: string | null): Promise<Outcome> {
    const turn = this.turn(actor.id);
    try {
      const a = await this.access.writable(actor.id, roomId);
      const message = await this.store.getMessage(roomId, messageId);
      if (!message) throw new AppError('message_not_found');
      if (message.authorId !== actor.id && !a.canAdmin) throw new AppError('forbidden', 'Only its author or an admin can delete a message.');
      try {
        return await this.submit({ kind: 'message_deleted', roomId, actorId: actor.id, clientId, at: Date.now(), messageId }, actor, undefined, turn);
      } catch (err) {
        // Deleting what is already gone is what was asked: it changes nothing, like a repeat.
        if (err instanceof AppError && err.code === 'message_deleted') return { room: roomId, seq: null, duplicate: false, event: null };
        throw err;
      }
    } finally {
      turn.release();
    }
  }

  async react(actor: Actor, roomId: string, messageId: number, emoji: string, on: boolean, clientId: string | null): Promise<Outcome> {
    const turn = this.turn(actor.id);
    try {
      if (!isEmoji(emoji)) throw AppError.validation({ emoji: 'Use one emoji.' });
      await this.access.writable(actor.id, roomId);
      this.charge(this.reactions, actor.id, 'reactions');
      return await this.submit({ kind: on ? 'reaction_added' : 'reaction_removed', roomId, actorId: actor.id, clientId, at: Date.now(), messageId, emoji }, actor, undefined, turn);
    } finally {
      turn.release();
    }
  }

  // ---- Membership ----

  /** Join a public channel. Already a member: nothing changes. */
  async join(actor: Actor, roomId: string, clientId: string | null): Promise<Outcome> {
    const turn = this.turn(actor.id);
    try {
      const a = await readable(this.store, actor.id, roomId);
      const change: RoomChange = { kind: 'member_joined', roomId, actorId: actor.id, clientId, at: Date.now(), userId: actor.id, role: 'member' };
      if (a.member) return await this.settled(change, actor, turn);
      if (a.room.kind === 'dm' || a.room.visibility !== 'public') throw new AppError('forbidden', 'Only public rooms can be joined; ask a member to add you.');
      if (a.room.archived) throw new AppError('room_archived');
      this.charge(this.membershipChanges, actor.id, 'room changes');
      return await this.submit(change, actor, actor, turn);
    } finally {
      turn.release();
    }
  }

  /** Put a user in `general` on registration: a `member_joined` of their own. */
  async joinDefault(user: Actor): Promise<Outcome> {
    return this.submit({ kind: 'member_joined', roomId: DEFAULT_ROOM, actorId: user.id, clientId: null, at: Date.now(), userId: user.id, role: 'member' }, user, user);
  }

  async leave(actor: Actor, roomId: string, clientId: string | null): Promise<Outcome> {
    const turn = this.turn(actor.id);
    try {
      const a = await readable(this.store, actor.id, roomId);
      const change: RoomChange = { kind: 'member_left', roomId, actorId: actor.id, clientId, at: Date.now(), userId: actor.id };
      if (!a.member) return await this.settled(change, actor, turn);
      if (isDefaultRoom(roomId)) throw new AppError('forbidden', 'Everyone is in general: it cannot be left.');
      if (a.room.kind === 'dm') throw new AppError('forbidden', 'A direct message cannot be left; mute it instead.');
      this.charge(this.membershipChanges, actor.id, 'room changes');
      return await this.submit(change, actor, actor, turn);
    } finally {
      turn.release();
    }
  }

  /** Any member of a channel adds someone (the way into a private room). Already in: nothing changes. */
  async invite(actor: Actor, roomId: string, userId: number, clientId: string | null): Promise<Outcome> {
    const turn = this.turn(actor.id);
    try {
      const a = await writable(this.store, actor.id, roomId);
      if (a.room.kind === 'dm') throw new AppError('forbidden', 'The people of a direct message are fixed; open a new one.');
      const [user] = await this.store.getUsersByIds([userId]);
      if (!user) throw new AppError('user_not_found');
      const change: RoomChange = { kind: 'member_invited', roomId, actorId: actor.id, clientId, at: Date.now(), userId, role: 'member' };
      if (await this.store.getMember(roomId, userId)) return await this.settled(change, actor, turn);
      this.charge(this.membershipChanges, actor.id, 'room changes');
      return await this.submit(change, actor, publicUser(user), turn);
    } finally {
      turn.release();
    }
  }

  /** The owner or an admin removes a member; an admin cannot remove the owner or another admin. */
  async remove(actor: Actor, roomId: string, userId: number, clientId: string | null): Promise<Outcome> {
    const turn = this.turn(actor.id);
    try {
      const a = await administrable(this.store, actor.id, roomId);
      if (userId === actor.id) throw new AppError('forbidden', 'Leave the room instead.');
      const target = await this.store.getMember(roomId, userId);
      const change: RoomChange = { kind: 'member_removed', roomId, actorId: actor.id, clientId, at: Date.now(), userId };
      if (!target) {
        if (!(await this.store.getUsersByIds([userId]))[0]) throw new AppError('user_not_found');
        return await this.settled(change, actor, turn);
      }
      if (target.role === 'owner' || (target.role === 'admin' && a.member.role !== 'owner')) {
        throw new AppError('forbidden', 'Only the owner can remove an admin, and nobody the owner.');
      }
      const [user] = await this.store.getUsersByIds([userId]);
      this.charge(this.membershipChanges, actor.id, 'room changes');
      return await this.submit(change, actor, user ? publicUser(user) : undefined, turn);
    } finally {
      turn.release();
    }
  }

  /** The owner makes a member an admin or an admin a member (`member_role_changed`). */
  async setRole(actor: Actor, roomId: string, userId: number, role: 'admin' | 'member', clientId: string | null): Promise<Outcome> {
    const turn = this.turn(actor.id);
    try {
      const a = await administrable(this.store, actor.id, roomId);
      if (a.member.role !== 'owner') throw new AppError('forbidden', 'Only the owner can change roles.');
      if (userId === actor.id) throw new AppError('forbidden', 'The owner stays the owner.');
      const [user] = await this.store.getUsersByIds([userId]);
      if (!user) throw new AppError('user_not_found');
      if (!(await this.store.getMember(roomId, userId))) throw new AppError('user_not_found', 'That user is not in this room.');
      return await this.submit({ kind: 'member_role_changed', roomId, actorId: actor.id, clientId, at: Date.now(), userId, role }, actor, publicUser(user), turn);
    } finally {
      turn.release();
    }
  }

  // ---- Rooms ----

  /** Rename, change the topic, archive or unarchive; one event per field that changes. */
  async updateRoom(actor: Actor, roomId: string, update: { name?: string; topic?: string; archived?: boolean }, clientId: string | null): Promise<Outcome[]> {
    const turn = this.turn(actor.id);
    try {
      const a = await administrable(this.store, actor.id, roomId);
      const name = update.name?.trim();
      const topic = update.topic?.trim();
      if (name !== undefined && name.length === 0) throw AppError.validation({ name: 'A room needs a name.' });
      const unarchiving = update.archived === false && a.room.archived;
      if (a.room.archived && !unarchiving) throw new AppError('room_archived');
      const at = Date.now();
      const key = (field: string) => (clientId === null ? null : `${clientId}:${field}`);
      const changes: RoomChange[] = [];
      // Unarchive first, so a rename in the same request is not refused as a write to an archived room.
      if (update.archived !== undefined && update.archived !== a.room.archived && unarchiving) {
        changes.push({ kind: 'room_archived', roomId, actorId: actor.id, clientId: key('archived'), at, archived: false });
      }
      if (name !== undefined && name !== a.room.name) changes.push({ kind: 'room_renamed', roomId, actorId: actor.id, clientId: key('name'), at, name });
      if (topic !== undefined && topic !== a.room.topic) changes.push({ kind: 'room_topic_changed', roomId, actorId: actor.id, clientId: key('topic'), at, topic });
      if (update.archived === true && !a.room.archived) {
        changes.push({ kind: 'room_archived', roomId, actorId: actor.id, clientId: key('archived'), at, archived: true });
      }
      return await Promise.all(changes.map((c) => this.submit(c, actor, undefined, turn)));
    } finally {
      turn.release();
    }
  }

  async createRoom(actor: Actor, input: { name: string; topic?: string; visibility: RoomVisibility }, clientId: string | null): Promise<{ room: RoomRecord; duplicate: boolean }> {
    const name = input.name.trim();
    if (name.length === 0) throw AppError.validation({ name: 'A room needs a name.' });
    this.charge(this.roomCreations, actor.id, 'rooms created');
    return this.create(
      {
        id: newRoomId(actor.id, clientId),
        kind: 'channel',
        name,
        topic: (input.topic ?? '').trim(),
        visibility: input.visibility,
        createdBy: actor.id,
        clientId,
        dmKey: null,
        at: Date.now(),
        members: [{ userId: actor.id, role: 'owner' }],
      },
      [actor],
    );
  }

  /** The DM of exactly these people (the actor and `userIds`): found again if it exists, else created. */
  async openDm(actor: Actor, userIds: number[], clientId: string | null): Promise<{ room: RoomRecord; duplicate: boolean; created: boolean }> {
    const others = [...new Set(userIds)].filter((id) => id !== actor.id);
    if (others.length === 0) throw AppError.validation({ userIds: 'Name at least one other user.' });
    const key = dmKey([actor.id, ...others]);
    const existing = await this.store.getRoomByDmKey(key);
    if (existing && (await this.store.getMember(existing.id, actor.id))) return { room: existing, duplicate: false, created: false };
    const users = await this.store.getUsersByIds(others);
    if (users.length !== others.length) throw new AppError('user_not_found', 'Some of these users do not exist.');
    this.charge(this.dmOpenings, actor.id, 'direct messages opened');
    const result = await this.create(
      {
        id: newRoomId(actor.id, clientId, key),
        kind: 'dm',
        name: '',
        topic: '',
        visibility: 'private',
        createdBy: actor.id,
        clientId,
        dmKey: key,
        at: Date.now(),
        members: [{ userId: actor.id, role: 'member' }, ...others.map((userId) => ({ userId, role: 'member' as const }))],
      },
      [actor, ...users.map(publicUser)],
    );
    return { ...result, created: !result.duplicate };
  }

  private async create(room: Parameters<ChatStore['createRoom']>[0], people: PublicUser[]): Promise<{ room: RoomRecord; duplicate: boolean }> {
    const result = await this.store.createRoom(room);
    if (!result.ok) {
      // A DM created meanwhile by someone else with the same people: that one is the DM.
      if (room.dmKey) {
        const found = await this.store.getRoomByDmKey(room.dmKey);
        if (found) return { room: found, duplicate: false };
      }
      throw new AppError(result.error);
    }
    if (result.duplicate) return { room: result.room, duplicate: true };
    const byId = new Map(people.map((p) => [p.id, p]));
    const joined = await this.myRooms(room.members.map((m) => m.userId), result.room.id).catch((err: unknown) => {
      this.log.error({ err }, 'reading a new room for its members failed');
      return new Map<number, MyRoom>();
    });
    // Members first, so that each one's sockets receive the room's first events.
    for (const m of room.members) this.guard('publish', () => this.bus.publish({ kind: 'membership', room: result.room.id, userId: m.userId, joined: true }));
    for (const e of result.events) {
      const user = e.userId !== null ? (byId.get(e.userId) ?? null) : null;
      // The room exists whatever the bus does: a failed delivery must not turn its creation into an error.
      this.guard('publish', () => this.publishEvent(e, { message: null, author: null, user }));
    }
    for (const [userId, myRoom] of joined) this.publishUser(userId, { type: 'room_joined', room: myRoom } satisfies RoomJoinedFrame);
    return { room: result.room, duplicate: false };
  }

  // ---- Read state and typing ----

  async markRead(userId: number, roomId: string, seq: number): Promise<{ room: string; readSeq: number; unread: number; mentions: number; lastSeq: number }> {
    await memberOf(this.store, userId, roomId);
    const state = await this.store.markRead(roomId, userId, seq, LIMITS.unreadCountMax);
    if (!state) throw new AppError('not_a_member');
    const frame: ReadStateFrame = { type: 'read_state', room: roomId, ...state };
    this.publishUser(userId, frame);
    return { room: roomId, ...state };
  }

  /**
   * The user's notification level in a room, synced to every socket of theirs (`membership_updated`)
   * so that their other devices follow at once; the rooms list and `hello` carry it after that.
   */
  async setNotify(userId: number, roomId: string, notify: NotifyLevel): Promise<RoomRecord> {
    const a = await memberOf(this.store, userId, roomId);
    if (a.member.notify === notify) return a.room;
    if (!(await this.store.setNotify(roomId, userId, notify))) throw new AppError('not_a_member');
    this.publishUser(userId, { type: 'membership_updated', room: roomId, notify } satisfies MembershipUpdatedFrame);
    return a.room;
  }

  /**
   * Forward that `user` is typing in the room, to its members only, at most once per
   * `typingForwardMs` per user and room whatever the client sends. Never stored.
   */
  async typing(user: Actor, roomId: string): Promise<void> {
    await this.access.writable(user.id, roomId);
    const key = `${roomId} ${user.id}`;
    const now = Date.now();
    const last = this.typingAt.get(key);
    if (last !== undefined && now - last < this.config.typingForwardMs) return;
    this.typingAt.set(key, now);
    const frame: TypingNoticeFrame = { type: 'typing', room: roomId, user, expiresInMs: LIMITS.typingTtlMs };
    this.bus.publish({ kind: 'room', room: roomId, frame: JSON.stringify(frame) });
  }

  /** A user search, under its own budget (it reads the users table for a script as fast as it asks). */
  async searchUsers(userId: number, prefix: string, limit: number): Promise<PublicUser[]> {
    this.charge(this.searches, userId, 'searches');
    return (await this.store.searchUsers(prefix, limit)).map(publicUser);
  }

  /**
   * The rooms of a connecting socket, for its `hello`: `subscribe` gets the user's room ids FIRST,
   * and only then are the rooms read. An event committed after the read is then delivered live (the
   * socket is already in the room), and one committed before it is in the read (`lastSeq`, the
   * counts). Read first and subscribe after, an event committed in between would be in neither:
   * with an asynchronous store (a networked database) that window is real. An event in both (committed
   * after subscribing, before the read) has a seq at most the room's `lastSeq` as read, which is
   * what the caller drops from the socket's live traffic.
   */
  async connectRooms(userId: number, subscribe: (roomIds: string[]) => void): Promise<MyRoom[]> {
    subscribe(await this.store.listUserRoomIds(userId));
    return this.listMyRooms(userId);
  }

  /** Every room of the user, as `hello` and `GET /api/rooms` list them. */
  async listMyRooms(userId: number): Promise<MyRoom[]> {
    const rooms = await this.store.listUserRooms(userId, LIMITS.unreadCountMax);
    return Promise.all(rooms.map((u) => this.presentUserRoom(u)));
  }

  async presentUserRoom(u: UserRoom): Promise<MyRoom> {
    return presentMyRoom(u, u.room.kind === 'dm' ? await this.dmMembers(u.room.id) : []);
  }

  async dmMembers(roomId: string): Promise<PublicUser[]> {
    return (await this.store.listMembers(roomId, LIMITS.dmMaxUsers)).map((m) => publicUser(m.user));
  }

  // ---- The queue ----

  /**
   * A membership change that would change nothing now: answered as a no-op, unless it carries an
   * idempotency key, which may be a retry of a change that did happen; the store then answers with
   * the first answer (`duplicate`). Not charged to any budget either way.
   */
  private settled(change: RoomChange, actor: Actor, turn: Turn): Promise<Outcome> {
    if (change.clientId === null) return Promise.resolve({ room: change.roomId, seq: null, duplicate: false, event: null });
    return this.submit(change, actor, undefined, turn);
  }

  /**
   * A place in the user's lane. Each action takes one on entry; its change joins the queue only once
   * every earlier action of the user has queued its change (or given up), so that a user's changes
   * are stored in the order they were asked for, however long each one's checks took (a message with
   * mentions needs one more read than one without). Changes of one user still share a batch.
   */
  private turn(userId: number): Turn {
    const ready = this.lanes.get(userId) ?? Promise.resolve();
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.lanes.set(userId, done);
    let released = false;
    return {
      ready,
      release: () => {
        if (released) return;
        released = true;
        resolve();
        if (this.lanes.get(userId) === done) this.lanes.delete(userId);
      },
    };
  }

  private charge(throttle: Throttle, userId: number, what: string): void {
    const key = String(userId);
    const retryAfter = throttle.retryAfter(key);
    if (retryAfter > 0) throw new AppError('rate_limited', `Too many ${what}. Try again in ${retryAfter} s.`, { retryAfter });
    throttle.hit(key);
  }

  private async existing(roomId: string, messageId: number): Promise<MessageRecord> {
    const message = await this.store.getMessage(roomId, messageId);
    if (!message) throw new AppError('message_not_found');
    if (message.deletedAt !== null) throw new AppError('message_deleted');
    return message;
  }

  /** The ids of the users a text mentions, whoever they are (members or not). */
  private async mentions(text: string): Promise<number[]> {
    const names = mentionedUsernames(text);
    if (names.length === 0) return [];
    const users = await this.store.getUsersByUsernames(names);
    const ids = new Map(users.map((u) => [u.username.toLowerCase(), u.id]));
    return names.map((n) => ids.get(n.toLowerCase())).filter((id): id is number => id !== undefined);
  }

  /** Queue a change (after the user's earlier ones, with a `turn`); resolves once it is committed. */
  private submit(change: RoomChange, actor: Actor, subject?: PublicUser, turn?: Turn): Promise<Outcome> {
    const enqueue = () =>
      new Promise<Outcome>((resolve, reject) => {
        this.queue.push({ change, actor, subject, resolve, reject });
        if (!this.scheduled && !this.inFlight) {
          this.scheduled = true;
          setImmediate(() => void this.flush());
        }
      });
    if (!turn) return enqueue();
    return turn.ready.then(() => {
      const outcome = enqueue();
      turn.release();
      return outcome;
    });
  }


  /**
   * Never rejects and always clears `inFlight`: a throw after a commit (publishing, a socket write)
   * must cost at most that one delivery. If it escaped, `inFlight` would stay set and every later
   * change would queue forever behind it.
   */
  private async flush(): Promise<void> {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.inFlight = this.commit(batch).catch((err: unknown) => this.log.error({ err, batch: batch.length }, 'change batch failed'));
      try {
        await this.inFlight;
      } finally {
        this.inFlight = null;
      }
    }
  }

  private async commit(batch: Job[]): Promise<void> {
    let results: ChangeResult[];
    try {
      results = await this.store.applyChanges(batch.map((j) => j.change));
    } catch (err) {
      this.log.error({ err, batch: batch.length }, 'storing changes failed');
      const error = new AppError('internal', 'The change could not be stored. Try again.');
      for (const j of batch) j.reject(error);
      return;
    }
    // Before anyone is answered: the next frame of a member removed in this batch must miss.
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      if (r.ok && r.event && !r.duplicate) this.forgetAccess(batch[i]!.change);
    }
    // The rooms of new members, read before anything is published so that the whole batch goes out
    // in commit order in one turn (only membership batches pay for this read).
    const joined = new Map<number, Promise<Map<number, MyRoom>>>();
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      const kind = batch[i]!.change.kind;
      if (r.ok && r.event && !r.duplicate && (kind === 'member_joined' || kind === 'member_invited')) {
        const c = batch[i]!.change as Extract<RoomChange, { userId: number }>;
        joined.set(i, this.myRooms([c.userId], c.roomId).catch(() => new Map()));
      }
    }
    const rooms = new Map<number, Map<number, MyRoom>>();
    for (const [i, p] of joined) rooms.set(i, await p);

    for (let i = 0; i < batch.length; i++) {
      const job = batch[i]!;
      const result = results[i]!;
      if (!result.ok) {
        job.reject(new AppError(result.error));
        continue;
      }
      const { event, duplicate } = result;
      // Answered first (the answer is queued for the caller's socket, which the hub writes before
      // room traffic), published after. Each step is guarded on its own: the change is durable
      // whatever a delivery does, so one failure must not keep it from the rest.
      job.resolve({ room: job.change.roomId, seq: event?.seq ?? null, duplicate, event, ...(result.message && { message: result.message }) });
      // A duplicate was published when first stored; receivers that missed it resume.
      if (!event || duplicate) continue;
      this.guard('publish', () => this.publishChange(job, event, result.message ?? null, rooms.get(i)));
    }
  }

  /**
   * What a committed change makes `access` forget: here at once (a bus may deliver later, and the
   * batch is answered next), and on every other node through the bus.
   */
  private forgetAccess(change: RoomChange): void {
    let userId: number | null;
    switch (change.kind) {
      case 'member_left':
      case 'member_removed':
      case 'member_role_changed':
        userId = change.userId;
        this.access.forget(change.roomId, userId);
        break;
      case 'room_archived':
        userId = null;
        this.access.forgetRoom(change.roomId);
        break;
      default:
        return;
    }
    this.guard('publish', () => this.bus.publish({ kind: 'access_changed', room: change.roomId, userId }));
  }

  private publishChange(job: Job, event: EventRecord, message: MessageRecord | null, joined: Map<number, MyRoom> | undefined): void {
    const { change } = job;
    const room = change.roomId;
    const author = message ? (message.authorId === job.actor.id ? job.actor : null) : null;
    const refs = { message, author: author ?? (message ? { id: message.authorId, username: '', avatarUrl: null } : null), user: job.subject ?? null };
    switch (change.kind) {
      case 'member_joined':
      case 'member_invited':
        // Subscribed first, so the member receives the event that added them and all that follow;
        // not what came before it in this turn (`seq`).
        this.bus.publish({ kind: 'membership', room, userId: change.userId, joined: true, seq: event.seq });
        this.publishEvent(event, refs);
        for (const [userId, myRoom] of joined ?? []) this.publishUser(userId, { type: 'room_joined', room: myRoom } satisfies RoomJoinedFrame);
        return;
      case 'member_left':
      case 'member_removed':
        // Unsubscribed first: from this event on, nothing of the room reaches any of their sockets.
        this.bus.publish({ kind: 'membership', room, userId: change.userId, joined: false, seq: event.seq });
        this.publishEvent(event, refs);
        this.publishUser(change.userId, { type: 'room_left', room, reason: change.kind === 'member_left' ? 'left' : 'removed' } satisfies RoomLeftFrame);
        return;
      default:
        this.publishEvent(event, refs);
    }
  }

  private publishEvent(event: EventRecord, refs: Parameters<typeof presentEvent>[1]): void {
    const frame: EventFrame = { type: 'event', event: presentEvent(event, refs) };
    this.bus.publish({ kind: 'room', room: event.roomId, frame: JSON.stringify(frame), seq: event.seq });
  }

  private publishUser(userId: number, frame: ReadStateFrame | MembershipUpdatedFrame | RoomJoinedFrame | RoomLeftFrame): void {
    const presence = frame.type === 'room_joined' ? { presence: frame.room.id } : {};
    this.guard('publish', () => this.bus.publish({ kind: 'user', userId, frame: JSON.stringify(frame), ...presence }));
  }

  /** Each user's view of one room they are now in. */
  private async myRooms(userIds: number[], roomId: string): Promise<Map<number, MyRoom>> {
    const out = new Map<number, MyRoom>();
    for (const userId of userIds) {
      const u = await this.store.getUserRoom(userId, roomId, LIMITS.unreadCountMax);
      if (u) out.set(userId, await this.presentUserRoom(u));
    }
    return out;
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, `${what} threw after a commit`);
    }
  }

  /** Wait until every queued change is stored and answered (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight || this.queue.length > 0 || this.scheduled) {
      if (this.inFlight) await this.inFlight;
      else await new Promise((r) => setImmediate(r));
    }
  }
}
