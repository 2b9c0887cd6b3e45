import type { Message } from '@chatter/protocol';

/**
 * What the client has delivered of one room's log. `lastSeq` only moves forward one contiguous
 * step at a time, so every message is delivered once and in order; a message that arrives early
 * (after a gap) is held until the messages before it have been fetched.
 */
export class RoomTimeline {
  /** Highest seq delivered with nothing missing before it (since the baseline). */
  lastSeq: number;
  /** False until the room's initial history (replace-all snapshot) has been delivered. */
  snapshotDone = false;
  private readonly held = new Map<number, Message>();

  constructor(
    readonly room: string,
    baseline: number,
  ) {
    this.lastSeq = baseline;
  }

  /** Take messages in any order, with duplicates; return the ones now deliverable, in order. */
  accept(messages: readonly Message[]): Message[] {
    for (const m of messages) if (m.seq > this.lastSeq) this.held.set(m.seq, m);
    return this.drain();
  }

  /** Everything up to `seq` is known to the app already (an initial snapshot went out). */
  advanceTo(seq: number): Message[] {
    if (seq > this.lastSeq) {
      this.lastSeq = seq;
      for (const key of this.held.keys()) if (key <= seq) this.held.delete(key);
    }
    return this.drain();
  }

  /** Messages are held behind a gap. */
  get hasGap(): boolean {
    return this.held.size > 0;
  }

  /**
   * The server has nothing between `lastSeq` and the first held message: accept the hole rather
   * than stall the room forever.
   */
  skipGap(): Message[] {
    if (this.held.size === 0) return [];
    this.lastSeq = Math.min(...this.held.keys()) - 1;
    return this.drain();
  }

  private drain(): Message[] {
    const out: Message[] = [];
    for (let next = this.held.get(this.lastSeq + 1); next; next = this.held.get(this.lastSeq + 1)) {
      this.held.delete(next.seq);
      this.lastSeq = next.seq;
      out.push(next);
    }
    return out;
  }
}
