import type { Message } from '@chatter/protocol';
import { nameColor, sanitize, type Span, type Style } from '../term/ansi.js';
import { stringWidth, truncate } from '../term/width.js';
import { wrapSpans } from '../term/wrap.js';
import { actionText } from '@chatter/client';
import { formatDate, formatTime } from '../format.js';
import type { Entry } from './room-log.js';

/** Time column ("12:34 ") width; wrapped text lines up after it. */
export const TEXT_INDENT = 6;

const DIM: Style = { dim: true };
const ERROR: Style = { fg: 'red', bold: true };

function authorStyle(name: string): Style {
  return { fg: nameColor(name), bold: true };
}

/** Whether a message mentions `self` by name (shown in bold so it stands out). */
export function mentions(text: string, self: string | undefined): boolean {
  if (!self) return false;
  const escaped = self.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w.-])@?${escaped}($|[^\\w-])`, 'i').test(text);
}

/** The spans of one message, before wrapping: "/me" as an action, "(edited HH:MM)", a tombstone, reactions. */
export function messageSpans(message: Pick<Message, 'author' | 'text' | 'createdAt'> & Partial<Pick<Message, 'editedAt' | 'deleted' | 'reactions'>>, self?: string, time?: Span): Span[] {
  // The server vouches for names, but the terminal only trusts what it has made printable.
  const name = sanitize(message.author.username, false);
  const timeSpan = time ?? { text: `${formatTime(message.createdAt)} `, style: DIM };
  if (message.deleted) return [timeSpan, { text: name, style: { ...authorStyle(name), dim: true } }, { text: ': message deleted', style: { ...DIM, italic: true } }];
  const action = actionText(message.text);
  const after: Span[] = [];
  if (message.editedAt) after.push({ text: ` (edited ${formatTime(message.editedAt)})`, style: DIM });
  if (message.reactions && message.reactions.length > 0) {
    after.push({ text: `  ${message.reactions.map((r) => `${sanitize(r.emoji, false)} ${r.count}`).join('  ')}`, style: DIM });
  }
  if (action !== undefined) {
    return [timeSpan, { text: '* ', style: DIM }, { text: name, style: authorStyle(name) }, { text: ` ${sanitize(action)}`, style: { italic: true } }, ...after];
  }
  const mentioned = name.toLowerCase() !== self?.toLowerCase() && mentions(message.text, self);
  return [timeSpan, { text: name, style: authorStyle(name) }, { text: ': ', style: DIM }, { text: sanitize(message.text), ...(mentioned && { style: { bold: true, fg: 'yellow' } }) }, ...after];
}

function eventSpans(entry: Entry & { kind: 'event' }): Span[] {
  const time: Span = { text: `${formatTime(entry.at)} `, style: DIM };
  // Notices quote the server (error messages, names in "alice joined"): printable before wrapping,
  // so that the widths the wrap measures are the widths the terminal shows.
  const text = sanitize(entry.text);
  switch (entry.tone) {
    case 'join':
      return [time, { text: `→ ${text}`, style: DIM }];
    case 'leave':
      return [time, { text: `← ${text}`, style: DIM }];
    case 'error':
      return [time, { text: `! ${text}`, style: ERROR }];
    case 'divider': {
      // The first unread message is under it.
      const label = ` ${text} `;
      return [{ text: `${'─'.repeat(TEXT_INDENT - 1)}${label}${'─'.repeat(12)}`, style: { fg: 'red' } }];
    }
    case 'output':
      // Command output (/help, /who) is read, not skimmed: normal weight, no time.
      return [{ text: ' '.repeat(TEXT_INDENT) }, { text }];
    default:
      return [time, { text: `- ${text}`, style: DIM }];
  }
}

const cache = new WeakMap<Entry, { width: number; self: string | undefined; ids: boolean; marked: boolean; lines: Span[][] }>();

/**
 * Screen lines of one entry at `width` columns (cached: wrapping is the costly part of a frame).
 * `marked`: the message a link opened, its time in reverse video.
 */
export function entryLines(entry: Entry, width: number, self: string | undefined, ids = false, marked = false): Span[][] {
  const hit = cache.get(entry);
  if (hit && hit.width === width && hit.self === self && hit.ids === ids && hit.marked === marked) return hit.lines;
  let spans = entry.kind === 'message' ? messageSpans(entry.message, self) : eventSpans(entry);
  if (marked) spans = [{ text: spans[0]!.text, style: { ...spans[0]!.style, dim: false, inverse: true, bold: true } }, ...spans.slice(1)];
  // `/ids`: the id /edit, /delete and /react take as #id, after the time.
  if (ids && entry.kind === 'message') spans = [spans[0]!, { text: `#${entry.message.id} `, style: { fg: 'cyan' } }, ...spans.slice(1)];
  const lines = wrapSpans(spans, width, TEXT_INDENT);
  cache.set(entry, { width, self, ids, marked, lines });
  return lines;
}

function entryTime(entry: Entry): string {
  return entry.kind === 'message' ? entry.message.createdAt : entry.at;
}

function daySeparator(iso: string, width: number): Span[] {
  const date = new Date(iso);
  const label = Number.isNaN(date.getTime())
    ? formatDate(iso)
    : date.toLocaleDateString('en-GB', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
  const text = ` ${label} `;
  const side = Math.max(0, Math.floor((width - stringWidth(text)) / 2));
  return [{ text: truncate('─'.repeat(side) + text + '─'.repeat(Math.max(0, width - side - stringWidth(text))), width), style: DIM }];
}

/**
 * The lines of the message pane, newest last: `head` (a "start of the room" marker, when the
 * whole history is loaded), entries with a separator where the day changes, then `tail` (pending
 * messages). Only the lines needed are built: the last `skip + count`.
 */
export function paneLines(entries: readonly Entry[], head: readonly Span[][], tail: readonly Span[][], width: number, self: string | undefined, skip: number, count: number, ids = false, marked: number | null = null): Span[][] {
  const needed = skip + count;
  const out: Span[][] = [...tail].reverse();
  let i = entries.length - 1;
  for (; i >= 0 && out.length < needed; i--) {
    const entry = entries[i]!;
    const lines = entryLines(entry, width, self, ids, entry.kind === 'message' && entry.id === marked);
    for (let j = lines.length - 1; j >= 0; j--) out.push(lines[j]!);
    const previous = entries[i - 1];
    const day = formatDate(entryTime(entry));
    if (entry.kind === 'message' && (!previous || formatDate(entryTime(previous)) !== day)) out.push(daySeparator(entryTime(entry), width));
  }
  if (i < 0) for (let j = head.length - 1; j >= 0; j--) out.push(head[j]!);
  out.reverse();
  const end = Math.max(0, out.length - skip);
  return out.slice(Math.max(0, end - count), end);
}

/** How many lines all entries take (to know how far up the pane can scroll). */
export function totalLines(entries: readonly Entry[], head: readonly Span[][], tail: readonly Span[][], width: number, self: string | undefined, ids = false): number {
  let n = head.length + tail.length;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    n += entryLines(entry, width, self, ids).length;
    const previous = entries[i - 1];
    if (entry.kind === 'message' && (!previous || formatDate(entryTime(previous)) !== formatDate(entryTime(entry)))) n++;
  }
  return n;
}

/** How many lines follow entry `index` to the pane's bottom: the entries after it and `tail`. */
export function linesAfter(entries: readonly Entry[], index: number, tail: readonly Span[][], width: number, self: string | undefined, ids = false): number {
  // Both counts include the entry with its day line, so the difference is what comes after it.
  return totalLines(entries.slice(index), [], tail, width, self, ids) - totalLines([entries[index]!], [], [], width, self, ids);
}

/** Lay out `left` and `right` on one row of `width`, truncating `left` first. */
export function barRow(left: Span[], right: Span[], width: number, style: Style): Span[] {
  const rightWidth = right.reduce((n, s) => n + stringWidth(s.text), 0);
  const room = Math.max(0, width - rightWidth - 1);
  const clipped: Span[] = [];
  let used = 0;
  for (const span of left) {
    if (used >= room) break;
    const text = truncate(span.text, room - used, used + stringWidth(span.text) > room ? '…' : '');
    clipped.push({ text, style: { ...style, ...span.style } });
    used += stringWidth(text);
  }
  const gap = Math.max(0, width - used - rightWidth);
  const fitsRight = rightWidth <= width - used;
  return [
    ...clipped,
    { text: ' '.repeat(fitsRight ? gap : Math.max(0, width - used)), style },
    ...(fitsRight ? right.map((s) => ({ text: s.text, style: { ...style, ...s.style } })) : []),
  ];
}
