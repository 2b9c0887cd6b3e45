import { graphemes, graphemeWidth } from '../term/width.js';

/**
 * The input line: text as grapheme clusters (so the cursor never lands inside an emoji), a cursor,
 * readline-style editing keys, a kill buffer and a history of sent lines.
 */
export class LineEditor {
  private chars: string[] = [];
  private cursor = 0;
  private killed = '';
  private readonly history: string[] = [];
  /** Position while browsing history; equals history.length when editing the draft. */
  private historyIndex = 0;
  private draft: string[] = [];
  /** First grapheme shown when the line is wider than the screen. */
  private view = 0;

  constructor(private readonly historyMax = 500) {}

  get text(): string {
    return this.chars.join('');
  }

  get cursorIndex(): number {
    return this.cursor;
  }

  /** Text before the cursor (what completion looks at). */
  get beforeCursor(): string {
    return this.chars.slice(0, this.cursor).join('');
  }

  get isEmpty(): boolean {
    return this.chars.length === 0;
  }

  set(text: string, cursor?: number): void {
    this.chars = graphemes(text);
    this.cursor = cursor === undefined ? this.chars.length : Math.max(0, Math.min(cursor, this.chars.length));
  }

  /** Replace the text before the cursor with `text` (completion), keeping what follows. */
  replaceBeforeCursor(start: number, insert: string): void {
    const head = this.chars.slice(0, start);
    const added = graphemes(insert);
    this.chars = [...head, ...added, ...this.chars.slice(this.cursor)];
    this.cursor = head.length + added.length;
  }

  insert(text: string): void {
    const added = graphemes(text);
    this.chars.splice(this.cursor, 0, ...added);
    this.cursor += added.length;
  }

  left(): void {
    if (this.cursor > 0) this.cursor--;
  }

  right(): void {
    if (this.cursor < this.chars.length) this.cursor++;
  }

  home(): void {
    this.cursor = 0;
  }

  end(): void {
    this.cursor = this.chars.length;
  }

  backspace(): void {
    if (this.cursor === 0) return;
    this.chars.splice(this.cursor - 1, 1);
    this.cursor--;
  }

  deleteForward(): void {
    if (this.cursor < this.chars.length) this.chars.splice(this.cursor, 1);
  }

  /** Ctrl+U: delete from the start of the line to the cursor. */
  killToStart(): void {
    if (this.cursor === 0) return;
    this.killed = this.chars.splice(0, this.cursor).join('');
    this.cursor = 0;
  }

  /** Ctrl+K: delete from the cursor to the end of the line. */
  killToEnd(): void {
    if (this.cursor === this.chars.length) return;
    this.killed = this.chars.splice(this.cursor).join('');
  }

  /** Ctrl+W: delete the word before the cursor (and the spaces after it). */
  killWordBack(): void {
    const start = this.wordStartBefore(this.cursor);
    if (start === this.cursor) return;
    this.killed = this.chars.splice(start, this.cursor - start).join('');
    this.cursor = start;
  }

  /** Alt+D: delete the word after the cursor. */
  killWordForward(): void {
    const end = this.wordEndAfter(this.cursor);
    if (end === this.cursor) return;
    this.killed = this.chars.splice(this.cursor, end - this.cursor).join('');
  }

  /** Ctrl+Y: insert the last killed text. */
  yank(): void {
    if (this.killed) this.insert(this.killed);
  }

  wordLeft(): void {
    this.cursor = this.wordStartBefore(this.cursor);
  }

  wordRight(): void {
    this.cursor = this.wordEndAfter(this.cursor);
  }

  private wordStartBefore(index: number): number {
    let i = index;
    while (i > 0 && isSpace(this.chars[i - 1]!)) i--;
    while (i > 0 && !isSpace(this.chars[i - 1]!)) i--;
    return i;
  }

  private wordEndAfter(index: number): number {
    let i = index;
    while (i < this.chars.length && isSpace(this.chars[i]!)) i++;
    while (i < this.chars.length && !isSpace(this.chars[i]!)) i++;
    return i;
  }

  historyUp(): void {
    if (this.historyIndex === 0) return;
    if (this.historyIndex === this.history.length) this.draft = this.chars;
    this.historyIndex--;
    this.set(this.history[this.historyIndex]!);
  }

  historyDown(): void {
    if (this.historyIndex >= this.history.length) return;
    this.historyIndex++;
    if (this.historyIndex === this.history.length) {
      this.chars = this.draft;
      this.cursor = this.chars.length;
    } else this.set(this.history[this.historyIndex]!);
  }

  /** Take the line (Enter): remember it in history and clear the editor. */
  submit(): string {
    const text = this.text;
    if (text.trim() && this.history[this.history.length - 1] !== text) {
      this.history.push(text);
      if (this.history.length > this.historyMax) this.history.shift();
    }
    this.historyIndex = this.history.length;
    this.draft = [];
    this.chars = [];
    this.cursor = 0;
    this.view = 0;
    return text;
  }

  /**
   * What to draw in `width` cells: the visible slice of the line and the cursor's column in it.
   * The line scrolls horizontally to keep the cursor in view; newlines (from a paste) show as ↵.
   */
  render(width: number): { text: string; cursorCol: number; scrolledLeft: boolean; scrolledRight: boolean } {
    const w = Math.max(1, width);
    const shown = this.chars.map((g) => (g === '\n' ? '↵' : g));
    const widths = shown.map((g) => graphemeWidth(g));
    if (this.cursor < this.view) this.view = this.cursor;
    // Keep one cell free for the cursor when it sits at the end.
    const span = (from: number, to: number) => widths.slice(from, to).reduce((a, b) => a + b, 0);
    while (this.view < this.cursor && span(this.view, this.cursor) + 1 > w) this.view++;
    // Scroll back when there is room (after deletions), so the line is not needlessly cut.
    while (this.view > 0 && span(this.view - 1, shown.length) + 1 <= w) this.view--;
    let text = '';
    let used = 0;
    let i = this.view;
    for (; i < shown.length; i++) {
      if (used + widths[i]! > w) break;
      text += shown[i];
      used += widths[i]!;
    }
    return { text, cursorCol: span(this.view, this.cursor), scrolledLeft: this.view > 0, scrolledRight: i < shown.length };
  }
}

function isSpace(g: string): boolean {
  return g === ' ' || g === '\n' || g === '\t';
}
