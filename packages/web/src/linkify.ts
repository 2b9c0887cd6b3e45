/**
 * Finds links in plain text. The result is a list of segments that React renders as text nodes
 * and <a> elements, so user text never becomes markup. Only http(s) URLs become links: a
 * `javascript:` or `data:` "link" stays text.
 *
 * A link shows its host as the browser will resolve it (`new URL().hostname`: lowercase, and
 * punycode for international names), so `https://аpple.com` with a Cyrillic а reads
 * `https://xn--pple-43d.com` and cannot pass for apple.com. A URL with credentials before the host
 * (`https://apple.com@evil.example`) exists only to deceive, and stays text.
 */
export type Segment = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

const URL_CANDIDATE = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/gi;
const TRAILING = '.,;:!?\'"';
const CLOSERS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/**
 * The length of `raw` once trailing punctuation and unmatched closing brackets are cut off. A
 * closing bracket belongs to the URL only if it opens inside it, as in Wikipedia links.
 *
 * Linear by construction: one pass counts the brackets, then `end` only moves left, and each step
 * updates the counts in O(1). (Trimming with a regex anchored at `$` and recounting after every cut
 * was quadratic in a run of punctuation or brackets.)
 */
export function trimmedLength(raw: string): number {
  const count: Record<string, number> = { '(': 0, ')': 0, '[': 0, ']': 0, '{': 0, '}': 0 };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c in count) count[c]!++;
  }
  let end = raw.length;
  while (end > 0) {
    const c = raw[end - 1]!;
    const open = CLOSERS[c];
    if (TRAILING.includes(c)) end--;
    else if (open !== undefined && count[open]! < count[c]!) {
      count[c]!--;
      end--;
    } else break;
  }
  return end;
}

/** Where the host is in a candidate: after `scheme://`, or at the start of a `www.` one. */
function hostRange(text: string): [number, number] {
  const scheme = text.indexOf('://');
  const start = /^www\./i.test(text) || scheme < 0 ? 0 : scheme + 3;
  if (text[start] === '[') {
    const close = text.indexOf(']', start);
    return [start, close < 0 ? text.length : close + 1];
  }
  let end = start;
  // `\` ends the host too: for http(s) the URL parser reads it as `/`.
  while (end < text.length && !'/?#:\\'.includes(text[end]!)) end++;
  return [start, end];
}

function toLink(text: string): { href: string; shown: string } | null {
  const candidate = /^www\./i.test(text) ? `https://${text}` : text;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '') return null;
  if (!url.hostname.includes('.') && url.hostname !== 'localhost') return null;
  const [start, end] = hostRange(text);
  return { href: url.href, shown: text.slice(0, start) + url.hostname + text.slice(end) };
}

export function linkify(text: string): Segment[] {
  const segments: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_CANDIDATE)) {
    const start = match.index;
    const raw = match[0].slice(0, trimmedLength(match[0]));
    const link = raw.length > 0 ? toLink(raw) : null;
    if (!link) continue;
    if (start > last) segments.push({ kind: 'text', text: text.slice(last, start) });
    segments.push({ kind: 'link', text: link.shown, href: link.href });
    last = start + raw.length;
  }
  if (last < text.length) segments.push({ kind: 'text', text: text.slice(last) });
  return segments;
}
