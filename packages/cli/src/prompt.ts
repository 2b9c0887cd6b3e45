import type { ReadStream } from 'node:tty';
import { graphemes, stringWidth } from './term/width.js';

export class PromptAborted extends Error {
  constructor() {
    super('Cancelled.');
  }
}

/**
 * Asks questions on a terminal, or reads answers line by line from a pipe (so
 * `printf 'http://...\nalice\nsecret\n' | chatter login` works in scripts).
 */
export class Prompter {
  private lines: string[] = [];
  private ended = false;
  private waiting: (() => void) | null = null;
  private listening = false;

  constructor(
    private readonly input: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin,
    private readonly output: NodeJS.WritableStream = process.stderr,
  ) {}

  get interactive(): boolean {
    return Boolean(this.input.isTTY);
  }

  /**
   * Ask for one line. With `hidden` the answer is not echoed at all (passwords): not even
   * asterisks, so its length does not show either.
   */
  async ask(question: string, opts: { default?: string; hidden?: boolean } = {}): Promise<string> {
    const label = opts.default ? `${question} [${opts.default}]: ` : `${question}: `;
    this.output.write(label);
    const answer = this.interactive ? await this.readTty(Boolean(opts.hidden)) : await this.readPipedLine(Boolean(opts.hidden));
    const trimmed = opts.hidden ? answer : answer.trim();
    return trimmed === '' && opts.default !== undefined ? opts.default : trimmed;
  }

  /** Stop reading stdin so the process can exit. */
  close(): void {
    if (this.listening) {
      this.input.removeAllListeners('data');
      this.input.removeAllListeners('end');
      this.input.pause();
      this.listening = false;
    }
  }

  private readTty(hidden: boolean): Promise<string> {
    const tty = this.input as ReadStream;
    return new Promise((resolve, reject) => {
      let chars: string[] = [];
      tty.setRawMode(true);
      tty.setEncoding('utf8');
      tty.resume();
      const done = (error?: Error) => {
        tty.off('data', onData);
        tty.setRawMode(false);
        tty.pause();
        this.output.write('\n');
        if (error) reject(error);
        else resolve(chars.join(''));
      };
      const onData = (chunk: string) => {
        // Bracketed paste markers and other escape sequences are not part of an answer.
        // eslint-disable-next-line no-control-regex
        const data = chunk.replace(/\x1b\[[0-9;?]*[~A-Za-z]|\x1bO[A-Za-z]/g, '');
        for (const ch of data) {
          if (ch === '\r' || ch === '\n') return done();
          if (ch === '\x03') return done(new PromptAborted());
          if (ch === '\x04') {
            if (chars.length === 0) return done(new PromptAborted());
            continue;
          }
          if (ch === '\x7f' || ch === '\b') {
            const last = chars.pop();
            if (last !== undefined && !hidden) this.output.write(`${'\b'.repeat(stringWidth(last))}${' '.repeat(stringWidth(last))}${'\b'.repeat(stringWidth(last))}`);
            continue;
          }
          if (ch === '\x15') {
            // Ctrl+U: start the answer over.
            if (!hidden) {
              const w = stringWidth(chars.join(''));
              this.output.write(`${'\b'.repeat(w)}${' '.repeat(w)}${'\b'.repeat(w)}`);
            }
            chars = [];
            continue;
          }
          if (ch < ' ' || ch === '\x1b') continue;
          chars.push(...graphemes(ch));
          if (!hidden) this.output.write(ch);
        }
      };
      tty.on('data', onData);
    });
  }

  private async readPipedLine(hidden: boolean): Promise<string> {
    if (!this.listening) {
      this.listening = true;
      let buffer = '';
      this.input.setEncoding('utf8');
      this.input.on('data', (chunk: string) => {
        buffer += chunk;
        const parts = buffer.split(/\r?\n/);
        buffer = parts.pop() ?? '';
        this.lines.push(...parts);
        this.wake();
      });
      this.input.on('end', () => {
        if (buffer) this.lines.push(buffer);
        buffer = '';
        this.ended = true;
        this.wake();
      });
      this.input.resume();
    }
    while (this.lines.length === 0) {
      if (this.ended) throw new PromptAborted();
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
    const line = this.lines.shift()!;
    // The answer was not typed on a terminal, so echo nothing but the line break for hidden ones.
    this.output.write(hidden ? '\n' : `${line}\n`);
    return line;
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }
}
