import { actionText } from '@chatter/client';
import type { Message } from '@chatter/protocol';
import { nameColor, renderSpans, sanitize, type ColorMode, type Span } from './term/ansi.js';

/** Local wall-clock time as HH:MM. */
export function formatTime(iso: string | Date): string {
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(date.getTime())) return '--:--';
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

/** Local date as YYYY-MM-DD, for day separators and `tail`. */
export function formatDate(iso: string | Date): string {
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(date.getTime())) return '????-??-??';
  const m = String(date.getMonth() + 1).padStart(2, '0');
  const d = String(date.getDate()).padStart(2, '0');
  return `${date.getFullYear()}-${m}-${d}`;
}

/** Continuation lines of a multi-line message are indented, so each message's first line stands out. */
function indentContinuation(text: string): string {
  return text.replace(/\n/g, '\n    ');
}

/** A message as one or more plain lines for `chatter tail`: "2024-05-01 12:34 <alice> hello". */
export function formatTailLine(message: Message, mode: ColorMode): string {
  const name = sanitize(message.author.username, false);
  if (message.deleted) {
    return renderSpans([{ text: `${formatDate(message.createdAt)} ${formatTime(message.createdAt)} `, style: { dim: true } }, { text: `<${name}> message deleted`, style: { dim: true } }], mode);
  }
  const action = actionText(message.text);
  const spans: Span[] = [{ text: `${formatDate(message.createdAt)} ${formatTime(message.createdAt)} `, style: { dim: true } }];
  if (action !== undefined) {
    spans.push({ text: '* ', style: { dim: true } }, { text: name, style: { fg: nameColor(name), bold: true } }, { text: ` ${indentContinuation(sanitize(action))}` });
  } else {
    spans.push({ text: '<', style: { dim: true } }, { text: name, style: { fg: nameColor(name), bold: true } }, { text: '> ', style: { dim: true } }, { text: indentContinuation(sanitize(message.text)) });
  }
  return renderSpans(spans, mode);
}
