import { close, fdatasync, open } from 'node:fs';
import { promisify } from 'node:util';

const openFile = promisify(open);
const closeFile = promisify(close);
const syncFile = promisify(fdatasync);

/** How the write-ahead log reaches the disk; a test seam (a disk's failure is outside our system). */
export type SyncFile = (fd: number) => Promise<void>;

/**
 * Commits made durable off the event loop, several at a time (a "group commit").
 *
 * SQLite runs in WAL mode with `synchronous=NORMAL`: a commit appends its pages to the log in the
 * operating system's cache and returns without waiting for the disk, and SQLite itself still syncs
 * around every checkpoint. With `synchronous=FULL` it would also fsync the log inside every commit,
 * on the event loop: measured on this project's bench machine, a message commit then took about
 * 350 µs of the loop's time instead of 200, and every commit paid its own fsync.
 *
 * Here the store calls `committed()` after each commit and answers the caller only when it
 * resolves: one `fdatasync` of the log, run on libuv's thread pool, covers every commit made before
 * it started (fsync works on the file, whichever descriptor asks), so commits made while one runs
 * share the next. A write is acknowledged only once it is on disk, as with FULL; the difference is
 * that the loop keeps serving sockets meanwhile and a busy server pays one fsync per group.
 *
 * Reads call `settled()` first: a reader must not see a change that a power cut could still take
 * back (a message seen in history by one user, then gone, its seq reused by another), so a read
 * waits for the sync in flight, at most about two fsyncs, and only while writes are arriving.
 *
 * A sync that fails rejects every commit it covered, and every later read and write: after a failed
 * fsync Linux may have dropped the pages it could not write while still showing them to readers, so
 * what the log holds is unknown until the process restarts and SQLite recovers it from the disk
 * (PostgreSQL stops for the same reason). Clients then retry with their idempotency keys, so a change
 * that did reach the disk is not doubled.
 */
export class WalSync {
  private fd: number | null = null;
  /** The fdatasync under way: it covers the commits made before it started. */
  private running: Promise<void> | null = null;
  /** The one after it, for the commits made while it runs; shared by all of them. */
  private queued: Promise<void> | null = null;
  private closed = false;
  private failure: Error | null = null;

  constructor(
    private readonly walFile: string,
    private readonly syncFd: SyncFile = syncFile,
  ) {}

  /** Call right after a commit; resolves once that commit is on disk. */
  committed(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('The store is closed.'));
    if (this.queued) return this.queued;
    if (this.running) {
      const after = this.running.catch(() => undefined);
      const queued = after.then(() => {
        this.queued = null;
        return this.start();
      });
      this.queued = queued;
      return queued;
    }
    return this.start();
  }

  /** Resolves once every commit made so far is on disk; at once when none is pending. Rejects once a sync has failed. */
  settled(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return this.queued ?? this.running ?? Promise.resolve();
  }

  /** Waits for the syncs under way, then releases the log's descriptor. */
  async close(): Promise<void> {
    this.closed = true;
    await (this.queued ?? this.running)?.catch(() => undefined);
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      await closeFile(fd);
    }
  }

  private start(): Promise<void> {
    const run = this.sync().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  private async sync(): Promise<void> {
    // Opened at the first commit, when SQLite has created the log; SQLite never replaces the file
    // while its connection is open (a checkpoint truncates or rewinds it in place), so one
    // descriptor serves the store's life.
    if (this.failure) throw this.failure;
    try {
      this.fd ??= await openFile(this.walFile, 'r');
      await this.syncFd(this.fd);
    } catch (err) {
      this.failure = new Error(`Syncing ${this.walFile} failed; the store refuses reads and writes until restarted.`, { cause: err });
      throw this.failure;
    }
  }
}
