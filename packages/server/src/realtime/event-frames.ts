import { LIMITS } from '@chatter/protocol';
import type { FanoutBus } from '../bus/types.js';
import { presentReplayed } from '../conversations/present.js';
import type { ChatStore, EventWithRefs } from '../storage/types.js';

/** One event of a room's log, serialized as a replay shows it. */
export interface EventPiece {
  seq: number;
  json: string;
  /** Bytes of `json` plus its separator. */
  bytes: number;
  /** The message whose body, as it is now, the piece shows (message_created, _edited, _deleted). */
  shows?: number;
  /** Set when the event changed that body (message_edited, _deleted): older pieces showing it are stale. */
  changes?: boolean;
}

/**
 * A contiguous run of a room's log, serialized: the events after `from` up to `through`.
 *
 * Invariant: every piece shows the state as of at least `through`: each event up to `through` was
 * either serialized after it was committed or checked by `EventFrames.adopt` for what it changes.
 */
interface Run {
  from: number;
  through: number;
  /** pieces[k] is the event `from + 1 + k`. */
  pieces: EventPiece[];
  bytes: number;
  /** Message id → the newest seq in the run whose piece shows that message's body. */
  bodies: Map<number, number>;
}

export interface EventFramesOptions {
  /** All rooms together hold at most this many bytes of serialized events; 0 turns the cache off. */
  maxBytes: number;
  /**
   * Drops every run when a user's public profile changes (the pieces show authors' and members'
   * names and pictures). With a shared bus this holds for changes made on other nodes too.
   */
  bus?: FanoutBus;
}

/** A room holds at most this share of the cache, so that one busy room cannot evict all others. */
const ROOM_SHARE = 4;
/** The first store page of a replay; later ones are sized from the bytes the earlier ones weighed. */
const FIRST_PAGE = 16;
/**
 * The first store page of a refresh: usually the run is at the head or a few events short of it,
 * and when it is far behind (a reader far back in a busy room) the run is dropped after this page.
 */
const REFRESH_PAGE = 4;

/**
 * The room logs' recent tails, serialized once and shared by every replay (a resume, an `events`
 * page): in a reconnect storm thousands of clients ask for the same stretch of one room's log,
 * and reading and serializing it for each of them alone made each later client's replay cost more
 * than the one before.
 *
 * Correct because:
 * - A piece is never served before the run has been brought up to the log's head (`refresh`), and
 *   bringing it up reads every newer event: an edit or delete drops every older piece showing that
 *   message's body (a deleted message's text is never replayed from memory). Nothing else in a
 *   stored piece changes after its event, except the names and pictures of users, for which the
 *   whole cache is dropped on `user_updated`. This needs no hook in the write path, so changes made
 *   by another node sharing the database are seen as well.
 * - Pieces are the same for every reader: nothing in a replayed event depends on who reads it (no
 *   event is `hidden` today; one that is hidden from some readers must be stored in full and
 *   replaced per reader here). Who may read the room is decided by the caller (`access`) before
 *   asking; the cache never widens it.
 * - Memory is bounded by `maxBytes` over all rooms (least recently used rooms go first), a room
 *   by a quarter of it and by `LIMITS.resumeMaxEvents` events, the most a resume replays.
 */
export class EventFrames {
  private readonly runs = new Map<string, Run>();
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly roomMaxBytes: number;
  private readonly unsubscribe: (() => void) | undefined;

  constructor(
    readonly store: ChatStore,
    options: EventFramesOptions,
  ) {
    this.maxBytes = options.maxBytes;
    this.roomMaxBytes = Math.floor(options.maxBytes / ROOM_SHARE);
    this.unsubscribe = options.bus?.subscribe((event) => {
      if (event.kind === 'user_updated') this.clear();
    });
  }

  /** Bytes held, over all rooms. */
  get size(): number {
    return this.bytes;
  }

  clear(): void {
    this.runs.clear();
    this.bytes = 0;
  }

  close(): void {
    this.unsubscribe?.();
    this.clear();
  }

  /**
   * The events after `after`, oldest first, up to `limit` events and `budget` bytes (at least one
   * event, whatever it weighs), and whether more were left. Callers check that the reader may
   * read the room's log first.
   *
   * `known`: the room's lastSeq as read after the reader was subscribed to the room (a resume, with
   * the rooms its `hello` read). A run already through it is as current as a refresh would make it
   * for this reader: what follows `known` reaches the reader live. So it is served without reading
   * the store, which in a reconnect storm saves a read per room for most of a room's members.
   */
  async read(room: string, after: number, limit: number, budget: number, known?: number): Promise<{ pieces: EventPiece[]; hasMore: boolean }> {
    // The newest seq known to exist; nothing is served from the run before it is refreshed.
    const current = known !== undefined && (this.runs.get(room)?.through ?? -1) >= known;
    let head = current ? known : await this.refresh(room);
    const pieces: EventPiece[] = [];
    let bytes = 0;
    let cursor = after;
    // Fits `piece` in; false when the reply is full (limit or budget) before it.
    const take = (piece: EventPiece): boolean => {
      if (pieces.length >= limit || (pieces.length > 0 && bytes + piece.bytes > budget)) return false;
      pieces.push(piece);
      bytes += piece.bytes;
      cursor = piece.seq;
      return true;
    };
    for (;;) {
      if (head !== undefined && cursor >= head) return { pieces, hasMore: false };
      if (pieces.length >= limit) return { pieces, hasMore: true };
      const run = this.runs.get(room);
      if (run && cursor >= run.from && cursor < run.through) {
        this.touch(room, run);
        for (let k = cursor - run.from; k < run.pieces.length; k++) if (!take(run.pieces[k]!)) return { pieces, hasMore: true };
        continue;
      }
      // From the store, in pages sized so that a page of large events is not read whole to send a
      // few of them, and not past the start of the run.
      const average = pieces.length > 0 ? bytes / pieces.length : 0;
      let size = Math.min(LIMITS.eventsPageMax, limit - pieces.length, average > 0 ? Math.ceil((budget - bytes) / average) + 1 : FIRST_PAGE);
      if (run && cursor < run.from) size = Math.min(size, run.from - cursor);
      const page = await this.store.getEvents(room, { after: cursor, limit: Math.max(1, size) });
      head = Math.max(head ?? 0, page.lastSeq);
      const read = this.serialize(page.events);
      const from = cursor;
      let full = false;
      for (const piece of read) {
        if (!take(piece)) {
          full = true;
          break;
        }
      }
      // Every piece serialized is kept for the next reader, the ones that did not fit too.
      this.adopt(room, from, read, page.lastSeq);
      if (full) return { pieces, hasMore: true };
      if (read.length === 0) return { pieces, hasMore: false };
    }
  }

  /**
   * Bring the room's run up to the log's head, or drop it when the head is further ahead than the
   * run could hold. Returns the head seen, or undefined when the room has no run.
   */
  private async refresh(room: string): Promise<number | undefined> {
    let first = true;
    for (;;) {
      const run = this.runs.get(room);
      if (!run) return undefined;
      const average = run.pieces.length > 0 ? run.bytes / run.pieces.length : 1;
      const fits = Math.max(1, Math.min(LIMITS.resumeMaxEvents, Math.floor(this.roomMaxBytes / average)));
      const page = await this.store.getEvents(room, { after: run.through, limit: Math.min(LIMITS.eventsPageMax, fits, first ? REFRESH_PAGE : fits) });
      first = false;
      if (this.runs.get(room) !== run) continue; // replaced meanwhile: start again with the new one
      if (page.lastSeq - run.through > fits) {
        this.drop(room);
        return page.lastSeq;
      }
      this.adopt(room, run.through, this.serialize(page.events), page.lastSeq);
      if (!page.hasMore || page.events.length === 0) return page.lastSeq;
    }
  }

  private serialize(events: EventWithRefs[]): EventPiece[] {
    return events.map((e) => {
      const json = JSON.stringify(presentReplayed(e));
      const piece: EventPiece = { seq: e.seq, json, bytes: Buffer.byteLength(json) + 1 };
      if (e.messageId !== null && SHOWS_BODY.has(e.kind)) piece.shows = e.messageId;
      if (e.kind === 'message_edited' || e.kind === 'message_deleted') piece.changes = true;
      return piece;
    });
  }

  /**
   * Keep what was read from the store, `after` < pieces, in a snapshot whose head was `snapshot`:
   * it starts the room's run, extends it past `through` (dropping the pieces its edits and deletes
   * made stale), or goes in front of it when it reaches the run and is at least as recent.
   * Anything else (not contiguous, or older than what the run has checked) is not kept.
   */
  private adopt(room: string, after: number, pieces: EventPiece[], snapshot: number): void {
    if (this.maxBytes === 0 || pieces.length === 0) return;
    if (!contiguous(after, pieces)) return;
    const last = pieces.at(-1)!.seq;
    let run = this.runs.get(room);
    if (!run) {
      run = { from: after, through: after, pieces: [], bytes: 0, bodies: new Map() };
      this.runs.set(room, run);
    }
    if (after <= run.through && last > run.through) {
      // Newer events: each edit or delete makes the older pieces showing that message stale. The
      // new pieces were serialized after all of these events, so they are current.
      let stale = run.from;
      for (const p of pieces) {
        if (p.seq <= run.through) continue;
        const shown = p.changes && p.shows !== undefined ? run.bodies.get(p.shows) : undefined;
        if (shown !== undefined && shown > stale) stale = shown;
      }
      this.dropBefore(run, Math.min(stale, run.through));
      if (run.pieces.length === 0) run.from = run.through;
      for (const p of pieces) if (p.seq > run.through) this.push(run, p);
      run.through = last;
    } else if (after < run.from && last >= run.from && snapshot >= run.through) {
      const front = pieces.filter((p) => p.seq <= run!.from);
      const bodies = new Map<number, number>();
      for (const p of front) remember(bodies, p);
      for (const [id, seq] of run.bodies) bodies.set(id, seq);
      run.bodies = bodies;
      run.pieces = front.concat(run.pieces);
      const added = front.reduce((n, p) => n + p.bytes, 0);
      run.bytes += added;
      this.bytes += added;
      run.from = after;
    } else {
      if (run.pieces.length === 0) this.drop(room);
      return;
    }
    this.trim(room, run);
  }

  private push(run: Run, piece: EventPiece): void {
    run.pieces.push(piece);
    run.bytes += piece.bytes;
    this.bytes += piece.bytes;
    remember(run.bodies, piece);
  }

  /** Drop the pieces up to and including `seq`. */
  private dropBefore(run: Run, seq: number): void {
    const n = Math.min(run.pieces.length, seq - run.from);
    if (n <= 0) return;
    let bytes = 0;
    for (let k = 0; k < n; k++) bytes += run.pieces[k]!.bytes;
    run.pieces.splice(0, n);
    run.bytes -= bytes;
    this.bytes -= bytes;
    run.from += n;
    if (run.bodies.size > 2 * run.pieces.length + 16) {
      for (const [id, s] of run.bodies) if (s <= run.from) run.bodies.delete(id);
    }
  }

  /** Within the room's and the cache's bounds; the least recently used rooms go first. */
  private trim(room: string, run: Run): void {
    let over = Math.max(run.pieces.length - LIMITS.resumeMaxEvents, 0);
    let bytes = run.bytes;
    while (over < run.pieces.length && bytes > this.roomMaxBytes) bytes -= run.pieces[over++]!.bytes;
    if (over > 0) this.dropBefore(run, run.from + over);
    if (run.pieces.length === 0) {
      // Nothing of it fits, but what was checked stays checked: an empty run starting at the head.
      run.from = run.through;
    }
    this.touch(room, run);
    for (const [other] of this.runs) {
      if (this.bytes <= this.maxBytes || other === room) break;
      this.drop(other);
    }
  }

  private touch(room: string, run: Run): void {
    this.runs.delete(room);
    this.runs.set(room, run);
  }

  private drop(room: string): void {
    const run = this.runs.get(room);
    if (!run) return;
    this.bytes -= run.bytes;
    this.runs.delete(room);
  }
}

function contiguous(after: number, pieces: EventPiece[]): boolean {
  for (let k = 0; k < pieces.length; k++) if (pieces[k]!.seq !== after + 1 + k) return false;
  return true;
}

const SHOWS_BODY = new Set(['message_created', 'message_edited', 'message_deleted']);

function remember(bodies: Map<number, number>, p: EventPiece): void {
  if (p.shows !== undefined) bodies.set(p.shows, p.seq);
}
