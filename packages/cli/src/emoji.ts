import { createRequire } from 'node:module';
import type { EmojiMartData } from '@emoji-mart/data';
import { isEmoji } from '@chatter/protocol';

/*
 * Emoji by shortcode for the terminal: `/react 2 :thumbsup:` or `/react 2 +1`. The same data set as
 * the web app's picker (`@emoji-mart/data`, whose ids and aliases are Slack's shortcodes), read
 * from the package on first use.
 */

let table: Map<string, string> | null = null;

/**
 * The form of an emoji the protocol accepts, or null. Data sets and keyboards disagree on the
 * variation selector U+FE0F; RGI wants it exactly where Unicode's list has it.
 */
export function rgiForm(text: string): string | null {
  if (isEmoji(text)) return text;
  const bare = text.replaceAll('\uFE0F', '');
  if (isEmoji(bare)) return bare;
  return isEmoji(`${bare}\uFE0F`) ? `${bare}\uFE0F` : null;
}

/** Shortcode (lower case, no colons) to emoji, for every emoji this Node's `isEmoji` accepts. */
export function shortcodes(): ReadonlyMap<string, string> {
  if (table) return table;
  const data = createRequire(import.meta.url)('@emoji-mart/data/sets/15/native.json') as EmojiMartData;
  const map = new Map<string, string>();
  for (const [id, e] of Object.entries(data.emojis)) {
    const emoji = e.skins[0] ? rgiForm(e.skins[0].native) : null;
    if (emoji) map.set(id.toLowerCase(), emoji);
  }
  for (const [alias, id] of Object.entries(data.aliases)) {
    const emoji = map.get(id.toLowerCase());
    if (emoji && !map.has(alias.toLowerCase())) map.set(alias.toLowerCase(), emoji);
  }
  table = map;
  return map;
}

/** What the user typed as an emoji, as the protocol wants it: an emoji itself, `:code:` or `code`; null if neither. */
export function resolveEmoji(input: string): string | null {
  const text = input.trim();
  const direct = rgiForm(text);
  if (direct) return direct;
  const code = /^:?([a-z0-9_+\-]+):?$/i.exec(text)?.[1];
  return code ? (shortcodes().get(code.toLowerCase()) ?? null) : null;
}

/** `:code:` completions for a partial `:co`, shortest first. */
export function completeShortcode(partial: string, max = 20): string[] {
  const m = /^:([a-z0-9_+\-]*)$/i.exec(partial);
  if (!m) return [];
  const prefix = m[1]!.toLowerCase();
  const found: string[] = [];
  for (const code of shortcodes().keys()) if (code.startsWith(prefix)) found.push(code);
  return found
    .sort((a, b) => a.length - b.length || a.localeCompare(b))
    .slice(0, max)
    .map((c) => `:${c}:`);
}
