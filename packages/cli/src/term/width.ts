/*
 * Display width of text in terminal cells. Terminals draw East Asian wide characters and emoji in
 * two cells, combining marks in none; layout (wrapping, truncation, the cursor column) has to
 * count the same way or lines spill over. Grapheme clusters (a flag, a skin-toned emoji, e + an
 * accent) are measured as one unit because terminals draw them as one glyph.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Split text into grapheme clusters (what a person sees as one character). */
export function graphemes(text: string): string[] {
  // Plain ASCII is by far the common case and needs no segmentation.
  if (/^[\x20-\x7e]*$/.test(text)) return text.split('');
  const out: string[] = [];
  for (const { segment } of segmenter.segment(text)) out.push(segment);
  return out;
}

// Code point ranges drawn two cells wide that are not emoji (CJK, Hangul, fullwidth forms...).
const WIDE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], [0x2329, 0x232a], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf],
  [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xa960, 0xa97f], [0xac00, 0xd7a3], [0xf900, 0xfaff],
  [0xfe10, 0xfe19], [0xfe30, 0xfe6f], [0xff00, 0xff60], [0xffe0, 0xffe6], [0x16fe0, 0x16fe4],
  [0x17000, 0x18aff], [0x1b000, 0x1b2ff], [0x1f200, 0x1f202], [0x1f210, 0x1f23b], [0x1f240, 0x1f248],
  [0x1f250, 0x1f251], [0x20000, 0x2fffd], [0x30000, 0x3fffd],
];

function isWideCodePoint(cp: number): boolean {
  if (cp < 0x1100) return false;
  let lo = 0;
  let hi = WIDE_RANGES.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const range = WIDE_RANGES[mid]!;
    if (cp < range[0]) hi = mid - 1;
    else if (cp > range[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

const EMOJI_PRESENTATION = /\p{Emoji_Presentation}/u;
const PICTOGRAPHIC_WITH_VS16 = /\p{Extended_Pictographic}\uFE0F/u;
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\u200b\u2028\u2029]+$/u;

/** Cells one grapheme cluster occupies. */
export function graphemeWidth(g: string): number {
  const cp = g.codePointAt(0) ?? 0;
  if (cp >= 0x20 && cp < 0x7f) return 1;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (ZERO_WIDTH.test(g)) return 0;
  if (EMOJI_PRESENTATION.test(g) || PICTOGRAPHIC_WITH_VS16.test(g)) return 2;
  return isWideCodePoint(cp) ? 2 : 1;
}

/** Cells a string occupies (no escape sequences expected: measure text before styling it). */
export function stringWidth(text: string): number {
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let width = 0;
  for (const g of graphemes(text)) width += graphemeWidth(g);
  return width;
}

/** Cut text to at most `width` cells, never splitting a wide character. */
export function truncate(text: string, width: number, ellipsis = ''): string {
  if (width <= 0) return '';
  if (stringWidth(text) <= width) return text;
  const room = Math.max(0, width - stringWidth(ellipsis));
  let out = '';
  let used = 0;
  for (const g of graphemes(text)) {
    const w = graphemeWidth(g);
    if (used + w > room) break;
    out += g;
    used += w;
  }
  return out + (stringWidth(ellipsis) <= width ? ellipsis : '');
}

/** Pad with spaces on the right up to `width` cells. */
export function padEnd(text: string, width: number): string {
  const w = stringWidth(text);
  return w >= width ? text : text + ' '.repeat(width - w);
}
