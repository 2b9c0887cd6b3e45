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
  // Asked to stop: ends the thread once this message is reached, so never inside a hash.
  if (request.op === 'exit') return parentPort.close();
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

/** Which budget a hashing job comes from: sign-ins of existing users go first. */
export type HashPriority = 'signin' | 'signup';

/** Thrown when a priority's queue is full; `retryAfter` (seconds) estimates when it will have room. */
export class HashQueueFull extends Error {
  constructor(readonly retryAfter: number) {
    super('the password hashing queue is full');
  }
}

interface Job {
  request: DistributiveOmit<HashRequest, 'id'>;
  resolve: (value: string | boolean) => void;
  reject: (err: Error) => void;
  startedAt?: number;
}

/**
 * bcrypt off the event loop, on worker threads of the lowest priority. bcrypt is deliberately
 * expensive (about 0.2 s of CPU at cost 12); at normal priority, a burst of sign-ins on a busy core
 * would take half of it from the thread that delivers chat messages. At nice 19 the scheduler gives
 * the chat about 97% of a contended core: under a flood, sign-ins queue and chat stays fast (the
 * chat server's job comes first). On an idle core, or another free core, hashing runs at full
 * speed. Measured in bench/ (the logins scenario): nice 10 still moved chat p99 by 1.29x, nice 19
 * by 1.08x.
 *
 * Jobs wait here, not in the workers' message queues, so that the queue can be bounded and ordered:
 * each worker holds one job at a time, and a free worker takes the oldest sign-in (a password
 * check) before any registration (a new hash). A flood of anonymous registrations therefore cannot
 * delay an existing user's sign-in by more than the jobs already running. Each priority has its own
 * bound (`maxQueued`); past it, `HashQueueFull` says when to come back instead of queueing forever.
 */
export class PasswordHasher {
  private readonly idle: Worker[] = [];
  private readonly threads = new Set<Worker>();
  private readonly running = new Map<Worker, Job>();
  private readonly queues: Record<HashPriority, Job[]> = { signin: [], signup: [] };
  private workerCount = 0;
  private closed = false;
  private readonly maxQueued: number;
  /** Moving average of one job's duration, for Retry-After estimates. */
  private jobMs = 250;
  private endedAll!: () => void;
  private readonly allEnded = new Promise<void>((resolve) => (this.endedAll = resolve));

  constructor(options: { workers?: number; maxQueued?: number } = {}) {
    const size = options.workers ?? 2;
    this.maxQueued = options.maxQueued ?? 64;
    const bcryptPath = createRequire(import.meta.url).resolve('bcrypt');
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath } });
      worker.on('message', (response: HashResponse) => {
        const job = this.running.get(worker);
        if (!job) return;
        this.running.delete(worker);
        this.jobMs = 0.8 * this.jobMs + 0.2 * (Date.now() - job.startedAt!);
        if (response.ok) job.resolve(response.result);
        else job.reject(new Error(response.error));
        if (this.closed) return; // asked to exit: it ends after this job
        this.idle.push(worker);
        this.dispatch();
      });
      worker.on('error', (err) => {
        this.running.get(worker)?.reject(err);
        this.running.delete(worker);
      });
      worker.on('exit', () => {
        // The thread is gone: fail a job it never answered, and every waiting one if no thread is
        // left to run them. A promise left pending here would hang its request forever.
        const lost = new Error(this.closed ? 'The password hasher is closed.' : 'A password hashing thread stopped.');
        this.threads.delete(worker);
        this.running.get(worker)?.reject(lost);
        this.running.delete(worker);
        const at = this.idle.indexOf(worker);
        if (at >= 0) this.idle.splice(at, 1);
        if (--this.workerCount === 0) {
          for (const job of [...this.queues.signin, ...this.queues.signup]) job.reject(lost);
          this.queues.signin.length = this.queues.signup.length = 0;
          this.endedAll();
        }
      });
      worker.unref();
      this.threads.add(worker);
      this.idle.push(worker);
      this.workerCount++;
    }
  }

  private run(request: DistributiveOmit<HashRequest, 'id'>, priority: HashPriority): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new Error('The password hasher is closed.'));
    const queue = this.queues[priority];
    if (queue.length >= this.maxQueued) {
      const ahead = this.queues.signin.length + (priority === 'signup' ? queue.length : 0) + this.running.size;
      throw new HashQueueFull(Math.max(1, Math.ceil((ahead * this.jobMs) / Math.max(1, this.workerCount) / 1000)));
    }
    return new Promise((resolve, reject) => {
      queue.push({ request, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0) {
      const job = this.queues.signin.shift() ?? this.queues.signup.shift();
      if (!job) return;
      const worker = this.idle.pop()!;
      job.startedAt = Date.now();
      this.running.set(worker, job);
      worker.postMessage({ ...job.request, id: 0 });
    }
  }

  /** Hash a new password. Registrations pass `signup`; a password change, whose user is known, `signin`. */
  async hash(password: string, cost: number, priority: HashPriority = 'signin'): Promise<string> {
    return (await this.run({ op: 'hash', input: prehash(password), cost }, priority)) as string;
  }

  async verify(password: string, hash: string): Promise<boolean> {
    return (await this.run({ op: 'compare', input: prehash(password), hash }, 'signin')) as boolean;
  }

  /**
   * Stop: fail what waits, let each thread finish the hash it is in, then let it end. A thread must
   * never be terminated: inside bcrypt's native call node-addon-api turns the termination into a C++
   * exception that nothing catches, and the whole process aborts ("terminate called after throwing
   * an instance of 'Napi::Error'"). So each thread is asked to exit after its job. One still hashing
   * after `timeoutMs` (a slow hash on a loaded machine: the threads run at nice 19) has its job
   * failed and is left to finish and exit by itself; it is unref'd, so it never holds the process.
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.closed = true;
    const error = new Error('The password hasher is closed.');
    for (const job of [...this.queues.signin, ...this.queues.signup]) job.reject(error);
    this.queues.signin.length = this.queues.signup.length = 0;
    const workers = [...this.idle, ...this.running.keys()];
    this.idle.length = 0;
    await Promise.all(workers.map((worker) => new Promise<void>((resolve) => {
      if (worker.threadId === -1) return resolve(); // already gone
      const deadline = setTimeout(() => {
        this.running.get(worker)?.reject(error);
        this.running.delete(worker);
        resolve();
      }, timeoutMs);
      worker.once('exit', () => {
        clearTimeout(deadline);
        resolve();
      });
      worker.postMessage({ op: 'exit' });
    })));
  }

  /**
   * Resolves once every thread has ended, including one `close` stopped waiting for. The threads are
   * unref'd; waiting for them refs them, so the wait itself keeps the process alive.
   */
  stopped(): Promise<void> {
    for (const worker of this.threads) worker.ref();
    return this.allEnded;
  }
}
