import assert from 'node:assert/strict';
import { fstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { SqliteStore } from '../src/storage/sqlite.js';

/** The disk, held in the test's hand: each fdatasync waits until the test lets it finish. */
class HeldDisk {
  readonly calls: { fd: number; finish: () => void; fail: (err: Error) => void }[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  readonly sync = (fd: number): Promise<void> =>
    new Promise<void>((finish, fail) => {
      this.calls.push({ fd, finish, fail });
      for (const w of this.waiters.filter((w) => this.calls.length >= w.n)) w.resolve();
      this.waiters = this.waiters.filter((w) => this.calls.length < w.n);
    });

  /** Resolves once the n-th sync has been asked for (1-based). */
  asked(n: number): Promise<void> {
    if (this.calls.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/** Tracks whether a promise has settled, to assert that one has not yet. */
function watch<T>(p: Promise<T>): { p: Promise<T>; settled: () => boolean } {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  return { p, settled: () => done };
}

/** One turn of the event loop: anything not waiting on the disk has settled by then. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const user = (name: string) => ({ username: name, email: null, passwordHash: 'x', createdAt: 1 });

describe('SqliteStore: commits are acknowledged once the log is synced (group commit)', () => {
  let dir = '';
  let store: SqliteStore | null = null;
  afterEach(async () => {
    await store?.close().catch(() => undefined);
    store = null;
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(): Promise<{ disk: HeldDisk; file: string }> {
    dir = mkdtempSync(join(tmpdir(), 'chatter-walsync-'));
    const file = join(dir, 'chatter.db');
    const disk = new HeldDisk();
    store = new SqliteStore({ file, syncFile: disk.sync });
    const migrated = store.migrate();
    await disk.asked(1);
    disk.calls[0]!.finish();
    await migrated;
    return { disk, file };
  }

  test('a write resolves only after a sync that began after its commit; writes made during a sync share the next one', async () => {
    const { disk, file } = await open();
    const a = watch(store!.createUser(user('ana')));
    await disk.asked(2);
    // The log synced is the database's own, whichever descriptor asks.
    assert.equal(fstatSync(disk.calls[1]!.fd).ino, statSync(`${file}-wal`).ino);

    // Committed while sync 2 runs: it cannot cover them, and they must not start syncs of their own.
    const b = watch(store!.createUser(user('bo')));
    const c = watch(store!.createUser(user('cy')));
    assert.equal(disk.calls.length, 2, 'no second sync while one runs');

    disk.calls[1]!.finish();
    assert.equal((await a.p).username, 'ana');
    await disk.asked(3);
    await turn();
    assert.equal(b.settled() || c.settled(), false, 'b and c wait for the sync that began after their commits');
    disk.calls[2]!.finish();
    assert.deepEqual([(await b.p).username, (await c.p).username], ['bo', 'cy']);
    assert.equal(disk.calls.length, 3, 'three commits after the migration, two syncs');
  });

  test('a read waits for the sync in flight, so it never shows what a power cut could take back', async () => {
    const { disk } = await open();
    const write = store!.createUser(user('ana'));
    await disk.asked(2);
    const read = watch(store!.getUserByLogin({ username: 'ana' }));
    const list = watch(store!.searchUsers('a', 10));
    await turn();
    assert.equal(read.settled() || list.settled(), false);
    disk.calls[1]!.finish();
    await write;
    assert.equal((await read.p)?.username, 'ana');
    assert.equal((await list.p).length, 1);
    // With nothing pending, a read does not ask the disk for anything.
    await store!.getUserByLogin({ username: 'ana' });
    assert.equal(disk.calls.length, 2);
  });

  test('a failed sync fails the writes it covered and every later read and write', async () => {
    const { disk } = await open();
    const first = store!.createUser(user('ana'));
    await disk.asked(2);
    const second = store!.createUser(user('bo'));
    disk.calls[1]!.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await assert.rejects(first, (err: Error) => /refuses reads and writes/.test(err.message) && (err.cause as Error).message.includes('EIO'));
    await assert.rejects(second, /refuses reads and writes/);
    await assert.rejects(store!.getUserByLogin({ username: 'ana' }), /refuses reads and writes/);
    await assert.rejects(store!.createUser(user('cy')), /refuses reads and writes/);
    assert.equal(disk.calls.length, 2, 'nothing else is synced once the log state is unknown');
  });

  test("synchronous 'normal' never syncs, and a write resolves at its commit", async () => {
    dir = mkdtempSync(join(tmpdir(), 'chatter-walsync-'));
    const disk = new HeldDisk();
    store = new SqliteStore({ file: join(dir, 'chatter.db'), synchronous: 'normal', syncFile: disk.sync });
    await store.migrate();
    assert.equal((await store.createUser(user('ana'))).username, 'ana');
    assert.equal(disk.calls.length, 0);
  });

  test('close waits for the sync in flight, and the write it covers is answered', async () => {
    const { disk } = await open();
    const write = store!.createUser(user('ana'));
    await disk.asked(2);
    const closing = watch(store!.close());
    await turn();
    assert.equal(closing.settled(), false);
    disk.calls[1]!.finish();
    await closing.p;
    assert.equal((await write).username, 'ana');
    store = null;
  });
});
