import { messageTextProblem, normalizeMessageText, type AckFrame, type Message, type MessageFrame } from '@chatter/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { FanoutBus } from '../bus/types.js';
import { AppError } from '../errors.js';
import type { ChatStore, HistoryPage, NewMessage } from '../storage/types.js';
import { present } from './present.js';

export interface SendRequest {
  room: string;
  clientId: string;
  text: string;
  author: Message['author'];
}

/** Called once the message is durable (or refused). Runs before the message is fanned out. */
export type SendCallback = (result: { ok: true; ack: AckFrame } | { ok: false; error: AppError }) => void;

interface Pending {
  request: SendRequest;
  row: NewMessage;
  done: SendCallback;
}

/**
 * The one place chat messages are written and their events produced. Sends that arrive during one
 * event-loop turn are stored in ONE transaction (group commit); only after it commits does each
 * sender get its ack, and only then is each message published, serialized once, to its room.
 * One batch is in flight at a time, so acks and fan-out follow commit order, which is seq order.
 */
export class MessageService {
  private queue: Pending[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly store: ChatStore,
    private readonly bus: FanoutBus,
    private readonly log: FastifyBaseLogger,
  ) {}

  /**
   * Validate and normalise a message's text (the protocol's rule, `normalizeMessageText`); returns
   * the text every path (ack, live fan-out, storage, history) will carry, or throws
   * validation_failed on `text`.
   */
  static checkText(text: string): string {
    const normalized = normalizeMessageText(text);
    const problem = messageTextProblem(normalized);
    if (problem) throw AppError.validation({ text: problem });
    return normalized;
  }

  send(request: SendRequest, done: SendCallback): void {
    let text: string;
    try {
      text = MessageService.checkText(request.text);
    } catch (err) {
      done({ ok: false, error: err as AppError });
      return;
    }
    const row: NewMessage = { roomId: request.room, authorId: request.author.id, clientId: request.clientId, text, createdAt: Date.now() };
    this.queue.push({ request, row, done });
    if (!this.scheduled && !this.inFlight) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  /**
   * Never rejects and always clears `inFlight`: a throw after a commit (a callback, a socket write,
   * the bus) must cost at most that one delivery. If it escaped, `inFlight` would stay set and every
   * later send would queue forever behind it.
   */
  private async flush(): Promise<void> {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.inFlight = this.commit(batch).catch((err: unknown) => this.log.error({ err, batch: batch.length }, 'message batch failed'));
      try {
        await this.inFlight;
      } finally {
        this.inFlight = null;
      }
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    let results;
    try {
      results = await this.store.appendMessages(batch.map((p) => p.row));
    } catch (err) {
      this.log.error({ err, batch: batch.length }, 'storing messages failed');
      const error = new AppError('internal', 'The message could not be stored. Try again.');
      for (const p of batch) this.guard('send callback', () => p.done({ ok: false, error }));
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      const result = results[i]!;
      if (!result.ok) {
        this.guard('send callback', () => p.done({ ok: false, error: new AppError('room_not_found') }));
        continue;
      }
      const m = result.message;
      // Each step is guarded on its own: the message is durable whatever a callback does, so its
      // sender's failure must not keep it from the room, nor the rest of the batch from theirs.
      this.guard('send callback', () =>
        p.done({
          ok: true,
          ack: { type: 'ack', clientId: m.clientId, room: m.roomId, id: m.id, seq: m.seq, createdAt: new Date(m.createdAt).toISOString(), duplicate: result.duplicate },
        }),
      );
      // A duplicate was already fanned out when first stored; receivers that missed it resume.
      if (!result.duplicate) {
        const frame: MessageFrame = { type: 'message', message: present(m, p.request.author) };
        this.guard('publish', () => this.bus.publish({ kind: 'room', room: m.roomId, frame: JSON.stringify(frame), seq: m.seq }));
      }
    }
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, `${what} threw after a commit`);
    }
  }

  /** Wait until every queued send is stored and acked (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight || this.queue.length > 0 || this.scheduled) {
      if (this.inFlight) await this.inFlight;
      else await new Promise((r) => setImmediate(r));
    }
  }

  history(room: string, range: { before?: number; after?: number; limit: number }): Promise<HistoryPage> {
    return this.store.getMessages(room, range);
  }
}
