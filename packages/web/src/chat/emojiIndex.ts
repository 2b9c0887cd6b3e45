import type { EmojiMartData } from '@emoji-mart/data';
import { isEmoji } from '@chatter/protocol';

/*
 * The emoji picker's table and search, built from emoji-mart's data set. Only the picker imports
 * this module, so it and the data load with the picker, not with the app.
 */

/** One emoji the picker offers. */
export interface EmojiEntry {
  /** As a reaction sends it: passes the protocol's `isEmoji` (RGI). */
  emoji: string;
  name: string;
  /** Shortcodes without colons, the main one first (`thumbsup`, `+1`): Slack's names. */
  codes: readonly string[];
  keywords: readonly string[];
  /** The same emoji in skin tones 1 (light) to 5 (dark), where it has them. */
  skins?: readonly string[];
}

export interface EmojiCategory {
  id: string;
  label: string;
  entries: readonly EmojiEntry[];
}

export interface EmojiIndex {
  categories: readonly EmojiCategory[];
  /** Every entry, in category order. */
  all: readonly EmojiEntry[];
  /** An emoji (any skin tone) to its entry, for "recently used". */
  byEmoji: ReadonlyMap<string, EmojiEntry>;
}

const CATEGORY_LABELS: Record<string, string> = {
  people: 'Smileys & people',
  nature: 'Animals & nature',
  foods: 'Food & drink',
  activity: 'Activities',
  places: 'Travel & places',
  objects: 'Objects',
  symbols: 'Symbols',
  flags: 'Flags',
};

/**
 * The form of an emoji the protocol accepts, or null. Data sets disagree on the variation
 * selector U+FE0F (emoji presentation); RGI wants it exactly where Unicode's list has it, so both
 * spellings are tried. The check is this runtime's own regex, so an emoji newer than the browser
 * (or the server's Node) knows is left out rather than offered and refused.
 */
export function rgiForm(native: string): string | null {
  if (isEmoji(native)) return native;
  const bare = native.replaceAll('\uFE0F', '');
  if (isEmoji(bare)) return bare;
  const qualified = `${bare}\uFE0F`;
  return isEmoji(qualified) ? qualified : null;
}

/** The picker's table from emoji-mart's data set, filtered to what a reaction may be. */
export function buildEmojiIndex(data: EmojiMartData): EmojiIndex {
  const codes = new Map<string, string[]>();
  for (const [alias, id] of Object.entries(data.aliases)) {
    const list = codes.get(id) ?? [];
    list.push(alias);
    codes.set(id, list);
  }
  const byEmoji = new Map<string, EmojiEntry>();
  const all: EmojiEntry[] = [];
  const categories: EmojiCategory[] = [];
  for (const cat of data.categories) {
    const entries: EmojiEntry[] = [];
    for (const id of cat.emojis) {
      const e = data.emojis[id];
      const emoji = e?.skins[0] ? rgiForm(e.skins[0].native) : null;
      if (!e || !emoji || byEmoji.has(emoji)) continue;
      const skins = e.skins.slice(1).map((s) => rgiForm(s.native));
      const entry: EmojiEntry = {
        emoji,
        name: e.name,
        codes: [id, ...(codes.get(id) ?? [])],
        keywords: e.keywords,
        ...(skins.length === 5 && skins.every((s) => s !== null) && { skins: skins as string[] }),
      };
      entries.push(entry);
      all.push(entry);
      byEmoji.set(emoji, entry);
      for (const s of entry.skins ?? []) byEmoji.set(s, entry);
    }
    if (entries.length > 0) categories.push({ id: cat.id, label: CATEGORY_LABELS[cat.id] ?? cat.id, entries });
  }
  return { categories, all, byEmoji };
}

/**
 * Entries matching what was typed, best first: a shortcode equal to it, then shortcodes and name
 * words starting with it, then keywords, then anywhere in the name. `:thumbs` and `thumbs` are
 * the same search; several words must all match.
 */
export function searchEmoji(index: EmojiIndex, query: string, limit = 200): EmojiEntry[] {
  const words = query.toLowerCase().replace(/^:|:$/g, '').split(/[\s]+/).filter(Boolean);
  if (words.length === 0) return [];
  const scored: { entry: EmojiEntry; score: number; order: number }[] = [];
  index.all.forEach((entry, order) => {
    let total = 0;
    for (const w of words) {
      const s = scoreWord(entry, w);
      if (s === null) return;
      total += s;
    }
    scored.push({ entry, score: total, order });
  });
  scored.sort((a, b) => a.score - b.score || a.order - b.order);
  return scored.slice(0, limit).map((s) => s.entry);
}

function scoreWord(entry: EmojiEntry, w: string): number | null {
  if (entry.codes.includes(w)) return 0;
  if (entry.codes.some((c) => c.startsWith(w))) return 1;
  const name = entry.name.toLowerCase();
  if (name.split(/[\s\-_]+/).some((p) => p.startsWith(w))) return 2;
  if (entry.keywords.some((k) => k.startsWith(w))) return 3;
  if (name.includes(w) || entry.codes.some((c) => c.includes(w))) return 4;
  return null;
}

/** The data set, fetched the first time a picker opens: it is not part of the initial bundle. */
let loading: Promise<EmojiIndex> | null = null;
export function loadEmojiIndex(): Promise<EmojiIndex> {
  loading ??= import('@emoji-mart/data/sets/15/native.json').then(
    (m) => buildEmojiIndex((m as { default: EmojiMartData }).default),
    (err: unknown) => {
      loading = null;
      throw err;
    },
  );
  return loading;
}
