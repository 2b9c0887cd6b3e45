import { ansi, renderSpans, sanitize, type ColorMode, type Span } from './ansi.js';
import { clipSpans } from './wrap.js';
import { stringWidth } from './width.js';

export interface ScreenOutput {
  write(data: string): unknown;
  columns?: number;
  rows?: number;
}

/**
 * A frame renderer for the alternate screen. Each frame is a full list of rows; only rows that
 * differ from what is on screen are rewritten (the message pane rarely changes while typing, so a
 * keystroke costs one row), inside one write with synchronized-output markers so the terminal
 * shows the frame at once.
 */
export class Screen {
  private onScreen: string[] = [];
  private fullRedraw = true;

  constructor(
    private readonly out: ScreenOutput,
    private readonly color: ColorMode,
  ) {}

  get cols(): number {
    return Math.max(1, this.out.columns ?? 80);
  }

  get rows(): number {
    return Math.max(1, this.out.rows ?? 24);
  }

  /** Forget what is on screen (after a resize or Ctrl+L): the next frame repaints everything. */
  invalidate(): void {
    this.fullRedraw = true;
  }

  /**
   * Draw `rows` (one list of spans per screen row, top to bottom; missing rows are blank) and put
   * the cursor at `cursor` (0-based), or hide it.
   */
  draw(rows: readonly (readonly Span[])[], cursor: { row: number; col: number } | null): void {
    const cols = this.cols;
    const height = this.rows;
    let out = ansi.syncStart + ansi.hideCursor;
    if (this.fullRedraw) {
      out += ansi.reset + ansi.clearScreen;
      this.onScreen = [];
      this.fullRedraw = false;
    }
    for (let r = 0; r < height; r++) {
      // The one place the chat writes text to the terminal: whatever a row was built from (names,
      // notices, server errors), no control character in it reaches the terminal as one.
      const spans = clipSpans((rows[r] ?? []).map((s) => ({ ...s, text: sanitize(s.text, false) })), cols);
      const width = spans.reduce((n, s) => n + stringWidth(s.text), 0);
      // Erase the rest of the row unless the text reaches the last column: in that pending-wrap
      // state some terminals would erase the last character instead.
      const line = renderSpans(spans, this.color) + (width < cols ? ansi.clearLine : '');
      if (this.onScreen[r] === line) continue;
      out += ansi.moveTo(r + 1, 1) + line;
      this.onScreen[r] = line;
    }
    this.onScreen.length = height;
    if (cursor) out += ansi.moveTo(Math.min(cursor.row, height - 1) + 1, Math.min(cursor.col, cols - 1) + 1) + ansi.showCursor;
    out += ansi.syncEnd;
    this.out.write(out);
  }
}
