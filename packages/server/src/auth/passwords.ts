import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

type HashRequest = { id: number; op: 'hash'; input: string; cost: number } | { id: number; op: 'compare'; input: string; hash: string };
type HashResponse = { id: number; ok: true; result: string | boolean } | { id: number; ok: false; error: string };

/**
 * The worker, inline so it runs the same from sources and from the build. It lowers its own
 * scheduling priority to nice 19 (on Linux /proc/thread-self names the thread's own task id, and
 * setpriority on a task id affects that thread alone), then hashes synchronously on its own thread.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid)) require('node:os').setPriority(tid, 19);
} catch {}
parentPort.on('message', (request) => {
  try {
    const result = request.op === 'hash' ? bcrypt.hashSync(request.input, request.cost) : bcrypt.compareSync(request.input, request.hash);
    parentPort.postMessage({ id: request.id, ok: true, result });
  } catch (err) {
    parentPort.postMessage({ id: request.id, ok: false, error: String(err && err.message) });
  }
});
`;

/*
 * bcrypt reads at most 72 bytes of its input and silently ignores the rest, so two long passwords
 * sharing a 72-byte prefix would be equal. Instead of truncating (or rejecting valid 128-character
 * passwords), every password is first reduced to base64(SHA-256(NFC(password))): 44 bytes that
 * depend on every character.
 */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function prehash(password: string): string {
  return createHash('sha256').update(password.normalize('NFC'), 'utf8').digest('base64');
}

/**
 * bcrypt off the event loop, on worker threads of the lowest priority. bcrypt is deliberately
 * expensive (about 0.2 s of CPU at cost 12); at normal priority, a burst of sign-ins on a busy core
 * would take half of it from the thread that delivers chat messages. At nice 19 the scheduler gives
 * the chat about 97% of a contended core: under a flood, sign-ins queue and chat stays fast (the
 * chat server's job comes first). On an idle core, or another free core, hashing runs at full
 * speed. Measured in bench/ (the logins scenario): nice 10 still moved chat p99 by 1.29x, nice 19
 * by 1.08x.
 */
export class PasswordHasher {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (value: string | boolean) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private next = 0;

  constructor(size = 2) {
    const bcryptPath = createRequire(import.meta.url).resolve('bcrypt');
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath } });
      worker.on('message', (response: HashResponse) => {
        const waiter = this.pending.get(response.id);
        if (!waiter) return;
        this.pending.delete(response.id);
        if (response.ok) waiter.resolve(response.result);
        else waiter.reject(new Error(response.error));
      });
      worker.on('error', (err) => {
        for (const waiter of this.pending.values()) waiter.reject(err);
        this.pending.clear();
      });
      worker.unref();
      this.workers.push(worker);
    }
  }

  private run(request: DistributiveOmit<HashRequest, 'id'>): Promise<string | boolean> {
    const id = this.nextId++;
    const worker = this.workers[this.next++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id });
    });
  }

  async hash(password: string, cost: number): Promise<string> {
    return (await this.run({ op: 'hash', input: prehash(password), cost })) as string;
  }

  async verify(password: string, hash: string): Promise<boolean> {
    return (await this.run({ op: 'compare', input: prehash(password), hash })) as boolean;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
