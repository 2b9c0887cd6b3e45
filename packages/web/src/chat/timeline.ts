import type { Message, PublicUser } from '@chatter/protocol';
import { dayNumber, formatDay } from '../format.js';

/** A join or leave seen while connected. Not stored by the server, so it lives only in this page. */
export interface SystemEvent {
  id: number;
  kind: 'joined' | 'left';
  user: PublicUser;
  at: string;
  /** The newest message seq when it happened: it is shown after that message. */
  afterSeq: number;
}

/** One of my messages not yet acknowledged by the server. */
export interface OutgoingMessage {
  clientId: string;
  text: string;
  /** pending: waiting for a connection; sending: on the wire; failed: rejected (see error). */
  state: 'pending' | 'sending' | 'failed';
  createdAt: string;
  error?: string;
}

export type DeliveryState = 'sent' | OutgoingMessage['state'];

export type Row =
  | { type: 'start'; key: string; state: 'loading' | 'more' | 'beginning' }
  | { type: 'day'; key: string; label: string; iso: string }
  | { type: 'system'; key: string; event: SystemEvent }
  | {
      type: 'message';
      key: string;
      authorId: number;
      author: PublicUser;
      text: string;
      createdAt: string;
      clientId: string;
      seq: number | null;
      own: boolean;
      state: DeliveryState;
      error?: string;
      /** First of a run from one author: shows avatar and name. */
      groupStart: boolean;
      /** Last of a run: gets the bubble's tail and more space below. */
      groupEnd: boolean;
    };

export type MessageRow = Extract<Row, { type: 'message' }>;

const GROUP_GAP_MS = 5 * 60_000;

/** Message keys survive the pending -> acknowledged transition, so the row is not remounted. */
export function messageKey(authorId: number, clientId: string): string {
  return `m:${authorId}:${clientId}`;
}

interface Stamp {
  ms: number;
  day: number;
}
const stamps = new WeakMap<object, Stamp>();
function stampOf(obj: object, iso: string): Stamp {
  let s = stamps.get(obj);
  if (!s) {
    const d = new Date(iso);
    s = { ms: d.getTime(), day: dayNumber(d) };
    stamps.set(obj, s);
  }
  return s;
}

export interface TimelineInput {
  me: PublicUser;
  /** Acknowledged messages, ascending seq, no duplicates. */
  messages: readonly Message[];
  system: readonly SystemEvent[];
  outgoing: readonly OutgoingMessage[];
  hasMore: boolean;
  loadingOlder: boolean;
  now?: Date;
}

/**
 * Flattens the room into rows: day separators, grouped messages, joins and leaves, then my
 * unacknowledged messages last. Linear in the number of messages; the list windows the result.
 */
export function buildTimeline(input: TimelineInput): Row[] {
  const { me, messages, system, outgoing } = input;
  const now = input.now ?? new Date();
  const rows: Row[] = [];
  rows.push({ type: 'start', key: 'start', state: input.loadingOlder ? 'loading' : input.hasMore ? 'more' : 'beginning' });

  let lastDay = -1;
  let prev: MessageRow | null = null;
  let prevMs = 0;

  const pushDay = (day: number, iso: string) => {
    if (day === lastDay) return;
    lastDay = day;
    rows.push({ type: 'day', key: `d:${day}`, label: formatDay(new Date(iso), now), iso });
    prev = null;
  };

  const pushMessage = (row: Omit<MessageRow, 'groupStart' | 'groupEnd'>, stamp: Stamp) => {
    pushDay(stamp.day, row.createdAt);
    const p = prev as MessageRow | null;
    const continues = p !== null && p.authorId === row.authorId && stamp.ms - prevMs < GROUP_GAP_MS && p.state !== 'failed';
    if (p && !continues) p.groupEnd = true;
    const next: MessageRow = { ...row, groupStart: !continues, groupEnd: true };
    if (p && continues) p.groupEnd = false;
    rows.push(next);
    prev = next;
    prevMs = stamp.ms;
  };

  const pushSystem = (event: SystemEvent) => {
    const stamp = stampOf(event, event.at);
    pushDay(stamp.day, event.at);
    rows.push({ type: 'system', key: `s:${event.id}`, event });
    prev = null;
  };

  let si = 0;
  const ackedIds = new Set<string>();
  for (const m of messages) {
    while (si < system.length && system[si]!.afterSeq < m.seq) pushSystem(system[si++]!);
    const own = m.author.id === me.id;
    if (own) ackedIds.add(m.clientId);
    pushMessage(
      {
        type: 'message',
        key: messageKey(m.author.id, m.clientId),
        authorId: m.author.id,
        author: m.author,
        text: m.text,
        createdAt: m.createdAt,
        clientId: m.clientId,
        seq: m.seq,
        own,
        state: 'sent',
      },
      stampOf(m, m.createdAt),
    );
  }
  while (si < system.length) pushSystem(system[si++]!);

  for (const o of outgoing) {
    if (ackedIds.has(o.clientId)) continue;
    pushMessage(
      {
        type: 'message',
        key: messageKey(me.id, o.clientId),
        authorId: me.id,
        author: me,
        text: o.text,
        createdAt: o.createdAt,
        clientId: o.clientId,
        seq: null,
        own: true,
        state: o.state,
        ...(o.error !== undefined && { error: o.error }),
      },
      stampOf(o, o.createdAt),
    );
  }
  return rows;
}
