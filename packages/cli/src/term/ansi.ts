/*
 * ANSI escape sequences and styled text. No TUI library: everything the client draws is a list
 * of rows, each a list of spans (text + style), turned into escape sequences here.
 */

export const ESC = '\x1b';
export const CSI = `${ESC}[`;

export const ansi = {
  altScreenOn: `${CSI}?1049h`,
  altScreenOff: `${CSI}?1049l`,
  hideCursor: `${CSI}?25l`,
  showCursor: `${CSI}?25h`,
  clearScreen: `${CSI}2J`,
  clearLine: `${CSI}K`,
  reset: `${CSI}0m`,
  bracketedPasteOn: `${CSI}?2004h`,
  bracketedPasteOff: `${CSI}?2004l`,
  /** Terminals that support synchronized output draw the frame at once, without tearing. */
  syncStart: `${CSI}?2026h`,
  syncEnd: `${CSI}?2026l`,
  /** 1-based row and column. */
  moveTo: (row: number, col: number) => `${CSI}${row};${col}H`,
} as const;

/** 256-color palette indexes, chosen readable on dark and light backgrounds. */
export type Color = 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'gray' | number;

export interface Style {
  fg?: Color;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  inverse?: boolean;
  underline?: boolean;
}

export interface Span {
  text: string;
  style?: Style;
}

const BASIC: Record<Exclude<Color, number>, number> = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 };

/**
 * How much styling output gets: `color`; `mono` (NO_COLOR: emphasis such as bold, dim and inverse
 * but no colors, as https://no-color.org asks); `plain` (not a terminal: no escape sequences).
 */
export type ColorMode = 'color' | 'mono' | 'plain';

export function sgr(style: Style | undefined, mode: ColorMode): string {
  if (!style || mode === 'plain') return '';
  const color = mode === 'color';
  const codes: string[] = [];
  if (style.bold) codes.push('1');
  if (style.dim) codes.push('2');
  if (style.italic) codes.push('3');
  if (style.underline) codes.push('4');
  if (style.inverse) codes.push('7');
  if (color && style.fg !== undefined) codes.push(typeof style.fg === 'number' ? `38;5;${style.fg}` : String(BASIC[style.fg]));
  return codes.length ? `${CSI}${codes.join(';')}m` : '';
}

/** Render spans as one string of text and escape sequences, ending with the style reset. */
export function renderSpans(spans: readonly Span[], mode: ColorMode): string {
  let out = '';
  for (const span of spans) {
    if (!span.text) continue;
    const code = sgr(span.style, mode);
    out += code ? code + span.text + ansi.reset : span.text;
  }
  return out;
}

export function plainText(spans: readonly Span[]): string {
  return spans.map((s) => s.text).join('');
}

/**
 * Make untrusted text safe to print: other people's messages must never be able to move the
 * cursor, change colors or retitle the terminal. Control characters (C0 except newline and tab,
 * DEL, C1) become visible `^X` / `\u{..}` forms; tabs become spaces. Bidi overrides are removed so
 * text cannot visually reorder what follows it.
 */
export function sanitize(text: string, keepNewlines = true): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\n') return keepNewlines ? '\n' : ' ';
    if (c === '\t') return '    ';
    if (c === '\r') return '';
    const code = c.charCodeAt(0);
    if (code < 0x20) return `^${String.fromCharCode(code + 64)}`;
    if (code === 0x7f) return '^?';
    if (code >= 0x202a) return '';
    return `\\u{${code.toString(16)}}`;
  });
}

/** Styling for a stream: none unless it is a terminal; no colors with NO_COLOR (set, not empty) or --no-color. */
export function colorMode(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, flag?: boolean): ColorMode {
  if (!stream.isTTY) return 'plain';
  if (flag === false || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) return 'mono';
  return 'color';
}

// Distinct, readable 256-color hues for user names; red stays reserved for errors.
const NAME_COLORS = [33, 39, 45, 71, 77, 112, 136, 141, 170, 172, 178, 208, 135, 68, 37, 150];

/** A stable color per user name, so people are recognizable across sessions. */
export function nameColor(name: string): number {
  let hash = 2166136261;
  for (const ch of name.toLowerCase()) {
    hash ^= ch.codePointAt(0)!;
    hash = Math.imul(hash, 16777619);
  }
  return NAME_COLORS[(hash >>> 0) % NAME_COLORS.length]!;
}
