import type { Span, Style } from './ansi.js';
import { graphemes, graphemeWidth } from './width.js';

interface Cell {
  g: string;
  w: number;
  style: Style | undefined;
}

/**
 * Word-wrap styled text to `width` cells. Lines break at spaces when they can and inside a word
 * only when the word is longer than a line; "\n" forces a break. Continuation lines start with
 * `indent` spaces, so a message's text lines up under its first line instead of under the time.
 */
export function wrapSpans(spans: readonly Span[], width: number, indent = 0): Span[][] {
  const w = Math.max(1, width);
  const hang = indent < w ? indent : 0;
  const lines: Cell[][] = [];
  let line: Cell[] = [];
  let used = 0;
  // Index in `line` just after the last space: where the line can be broken.
  let breakAt = -1;
  // True when the current line began because the previous one was full (not at a "\n").
  let soft = false;
  // Cells of indent at the start of the current line (none on the first line).
  let lineStart = 0;

  const startLine = (carry: Cell[], wrapped = true) => {
    line = [];
    used = 0;
    breakAt = -1;
    soft = wrapped;
    lineStart = hang;
    if (hang > 0) {
      line.push({ g: ' '.repeat(hang), w: hang, style: undefined });
      used = hang;
    }
    for (const cell of carry) {
      line.push(cell);
      used += cell.w;
    }
  };
  const finish = (cells: Cell[]) => {
    let end = cells.length;
    while (end > 0 && cells[end - 1]!.g === ' ') end--;
    lines.push(cells.slice(0, end));
  };

  for (const span of spans) {
    for (const g of graphemes(span.text)) {
      if (g === '\n' || g === '\r\n') {
        finish(line);
        startLine([], false);
        continue;
      }
      const gw = graphemeWidth(g);
      if (used + gw > w && used > lineStart) {
        if (g === ' ') {
          finish(line);
          startLine([]);
          continue;
        }
        if (breakAt > (lineStart > 0 ? 1 : 0)) {
          const carry = line.slice(breakAt);
          finish(line.slice(0, breakAt));
          startLine(carry);
        } else {
          finish(line);
          startLine([]);
        }
        // A carried word plus this grapheme may still be too long for the line (very narrow screens).
        if (used + gw > w && used > lineStart) {
          finish(line);
          startLine([]);
        }
      }
      // Leading spaces on a continuation line are noise.
      if (g === ' ' && soft && used === lineStart) continue;
      line.push({ g, w: gw, style: span.style });
      used += gw;
      if (g === ' ') breakAt = line.length;
    }
  }
  finish(line);
  return lines.map(mergeCells);
}

function mergeCells(cells: Cell[]): Span[] {
  const spans: Span[] = [];
  for (const cell of cells) {
    const last = spans[spans.length - 1];
    if (last && last.style === cell.style) last.text += cell.g;
    else spans.push(cell.style ? { text: cell.g, style: cell.style } : { text: cell.g });
  }
  return spans;
}

/** Cut styled text to `width` cells (one row), keeping styles. */
export function clipSpans(spans: readonly Span[], width: number): Span[] {
  const out: Span[] = [];
  let used = 0;
  for (const span of spans) {
    if (used >= width) break;
    let text = '';
    for (const g of graphemes(span.text)) {
      const gw = graphemeWidth(g);
      if (used + gw > width) {
        used = width;
        break;
      }
      text += g;
      used += gw;
    }
    if (text) out.push(span.style ? { text, style: span.style } : { text });
  }
  return out;
}
