/**
 * Admission for image work. Decoding a picture is the one thing a signed-in user can ask for that
 * costs the server tens of megabytes and a second of a thread (sharp runs on libuv's pool of four
 * threads, which bcrypt and file I/O share), so it is admitted, never queued:
 *
 * - each user has one slot, taken before the upload's body is read, so a user who fires eight
 *   uploads at once is refused seven times without the server reading seven bodies;
 * - the process has `maxJobs` decoding slots, taken only around the decode itself, so a slow upload
 *   (a client sending one byte a second) holds its user's slot but never a decoding one.
 *
 * Refusals are immediate: waiting requests would hold their bodies in memory, which is what the
 * limit is there to prevent.
 */
export class ImageJobs {
  private readonly users = new Set<number>();
  private running = 0;

  constructor(private readonly maxJobs: number) {}

  /** Take `userId`'s one slot. Returns its release (safe to call more than once), or null if it is taken. */
  reserveUser(userId: number): (() => void) | null {
    if (this.users.has(userId)) return null;
    this.users.add(userId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.users.delete(userId);
    };
  }

  /** Run `job` in a decoding slot, or resolve `{busy: true}` at once when all are taken. */
  async run<T>(job: () => Promise<T>): Promise<{ busy: false; value: T } | { busy: true }> {
    if (this.running >= this.maxJobs) return { busy: true };
    this.running++;
    try {
      return { busy: false, value: await job() };
    } finally {
      this.running--;
    }
  }

  /** Decodes in progress now (for tests and logs). */
  get inFlight(): number {
    return this.running;
  }
}
