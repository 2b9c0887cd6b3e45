import { actionText, describeMembership, type MembershipEvent, type TimelineItem } from '@chatter/client';
import type { PublicUser, Reaction } from '@chatter/protocol';
import { dayNumber, formatDay } from '../format.js';

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
  /** "New messages": before the first message that was unread when the room was opened. */
  | { type: 'unread'; key: string }
  /** Consecutive membership events, folded: "Ana, Bo and 12 others joined". */
  | { type: 'membership'; key: string; text: string; at: string; events: readonly MembershipEvent[]; /** Everyone named, when `text` folds some into "others". */ everyone?: string }
  | {
      type: 'message';
      key: string;
      authorId: number;
      author: PublicUser;
      /** The text as stored (for an action, without "/me "). */
      text: string;
      /** "/me waves": shown as "* alice waves". */
      action: boolean;
      /** The text as stored, "/me" included (what an edit starts from). */
      raw: string;
      createdAt: string;
      clientId: string;
      /** Null while pending. */
      id: number | null;
      seq: number | null;
      /** ISO 8601 of the last edit. */
      editedAt: string | null;
      /** A tombstone: "message deleted". */
      deleted: boolean;
      reactions: readonly Reaction[];
      /** Lowercased usernames the message mentions (from its `mentions` ids), to highlight. */
      mentioned: readonly string[];
      /** It mentions me. */
      mentionsMe: boolean;
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
const NONE: readonly string[] = [];

function mentionedNames(ids: readonly number[], nameOf: ((id: number) => string | undefined) | undefined): readonly string[] {
  if (ids.length === 0 || !nameOf) return NONE;
  const names: string[] = [];
  for (const id of ids) {
    const name = nameOf(id);
    if (name !== undefined) names.push(name.toLowerCase());
  }
  return names;
}

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
  /** The room's timeline from the SDK's store: messages and folded membership events, ascending seq. */
  items: readonly TimelineItem[];
  outgoing: readonly OutgoingMessage[];
  hasMore: boolean;
  loadingOlder: boolean;
  /** The read position the "new messages" divider follows, or null for none. */
  dividerAfter?: number | null;
  /** A username by user id, for mentions (the store's profiles); undefined when unknown. */
  nameOf?: (userId: number) => string | undefined;
  now?: Date;
}

/**
 * Lays the room out in rows: day separators, grouped messages, membership lines, then my
 * unacknowledged messages last. Linear in the number of items; the list windows the result.
 * (Which messages exist, in which order and state, is the store's business, not this function's.)
 */
export function buildTimeline(input: TimelineInput): Row[] {
  const { me, items, outgoing } = input;
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
    // An action or a tombstone stands on its own line, like a membership line.
    const continues = p !== null && p.authorId === row.authorId && stamp.ms - prevMs < GROUP_GAP_MS && p.state !== 'failed' && !row.action && !p.action && !row.deleted && !p.deleted;
    if (p && !continues) p.groupEnd = true;
    const next: MessageRow = { ...row, groupStart: !continues, groupEnd: true };
    if (p && continues) p.groupEnd = false;
    rows.push(next);
    prev = next;
    prevMs = stamp.ms;
  };

  const ackedIds = new Set<string>();
  let divider = input.dividerAfter ?? null;
  for (const item of items) {
    if (item.kind === 'membership') {
      const first = item.events[0]!;
      const stamp = stampOf(first, first.at);
      pushDay(stamp.day, first.at);
      const text = describeMembership(item.events, me.id);
      const everyone = describeMembership(item.events, me.id, true);
      rows.push({ type: 'membership', key: item.key, text, at: item.events.at(-1)!.at, events: item.events, ...(everyone !== text ? { everyone } : {}) });
      prev = null;
      continue;
    }
    const m = item.message;
    const own = m.author.id === me.id;
    if (own) ackedIds.add(m.clientId);
    if (divider !== null && m.seq > divider && !own && !m.deleted) {
      const stamp = stampOf(m, m.createdAt);
      pushDay(stamp.day, m.createdAt);
      rows.push({ type: 'unread', key: 'unread' });
      prev = null;
      divider = null;
    }
    const action = actionText(m.text);
    pushMessage(
      {
        type: 'message',
        key: messageKey(m.author.id, m.clientId),
        authorId: m.author.id,
        author: m.author,
        text: action ?? m.text,
        action: action !== undefined,
        raw: m.text,
        createdAt: m.createdAt,
        clientId: m.clientId,
        id: m.id,
        seq: m.seq,
        editedAt: m.editedAt,
        deleted: m.deleted,
        reactions: m.reactions,
        mentioned: mentionedNames(m.mentions, input.nameOf),
        mentionsMe: !own && m.mentions.includes(me.id),
        own,
        state: 'sent',
      },
      stampOf(m, m.createdAt),
    );
  }

  for (const o of outgoing) {
    if (ackedIds.has(o.clientId)) continue;
    const action = actionText(o.text);
    pushMessage(
      {
        type: 'message',
        key: messageKey(me.id, o.clientId),
        authorId: me.id,
        author: me,
        text: action ?? o.text,
        action: action !== undefined,
        raw: o.text,
        createdAt: o.createdAt,
        clientId: o.clientId,
        id: null,
        seq: null,
        editedAt: null,
        deleted: false,
        reactions: [],
        mentioned: NONE,
        mentionsMe: false,
        own: true,
        state: o.state,
        ...(o.error !== undefined && { error: o.error }),
      },
      stampOf(o, o.createdAt),
    );
  }
  return rows;
}
