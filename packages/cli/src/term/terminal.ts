import type { ReadStream, WriteStream } from 'node:tty';
import { ansi, sanitize } from './ansi.js';
import { KeyDecoder, type Key } from './keys.js';

/** How long to wait for the rest of an escape sequence before taking a lone ESC as the Escape key. */
const ESCAPE_TIMEOUT_MS = 40;

const EXIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const SIGNAL_NUMBERS: Record<(typeof EXIT_SIGNALS)[number], number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/**
 * Owns the terminal while the full-screen client runs: raw mode, the alternate screen, bracketed
 * paste and a hidden cursor, and puts everything back however the process ends (normal exit,
 * exception, SIGINT/SIGTERM/SIGHUP), so a crash never leaves the shell in raw mode.
 */
export class Terminal {
  private readonly decoder = new KeyDecoder();
  private escapeTimer: NodeJS.Timeout | null = null;
  private active = false;
  private readonly cleanups: Array<() => void> = [];

  constructor(
    readonly input: ReadStream,
    readonly output: WriteStream,
  ) {}

  get columns(): number {
    return this.output.columns || 80;
  }

  get rows(): number {
    return this.output.rows || 24;
  }

  /**
   * Take over the terminal. `onKeys` gets decoded key presses, `onResize` fires on SIGWINCH.
   * `onSignal` runs on SIGINT/SIGTERM/SIGHUP after the terminal is restored.
   */
  enter(handlers: { onKeys: (keys: Key[]) => void; onResize: () => void; onSignal: (signal: NodeJS.Signals) => void }): void {
    if (this.active) return;
    this.active = true;
    this.input.setRawMode(true);
    this.input.setEncoding('utf8');
    this.input.resume();
    this.output.write(ansi.altScreenOn + ansi.bracketedPasteOn + ansi.clearScreen);

    const onData = (chunk: string) => {
      if (this.escapeTimer) {
        clearTimeout(this.escapeTimer);
        this.escapeTimer = null;
      }
      const keys = this.decoder.feed(chunk);
      if (keys.length) handlers.onKeys(keys);
      if (this.decoder.hasPending) {
        this.escapeTimer = setTimeout(() => {
          this.escapeTimer = null;
          const rest = this.decoder.flush();
          if (rest.length) handlers.onKeys(rest);
        }, ESCAPE_TIMEOUT_MS);
      }
    };
    this.input.on('data', onData);
    this.cleanups.push(() => this.input.off('data', onData));

    const onResize = () => handlers.onResize();
    this.output.on('resize', onResize);
    this.cleanups.push(() => this.output.off('resize', onResize));

    // 'exit' handlers must be synchronous; writes to a TTY are, on every platform Node supports.
    const onExit = () => this.restore();
    process.on('exit', onExit);
    this.cleanups.push(() => process.off('exit', onExit));

    for (const signal of EXIT_SIGNALS) {
      const onSig = () => {
        this.restore();
        handlers.onSignal(signal);
      };
      process.on(signal, onSig);
      this.cleanups.push(() => process.off(signal, onSig));
    }

    const onCrash = (error: unknown) => {
      this.restore();
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`chatter: unexpected error: ${sanitize(message, false)}\n`);
      if (process.env.CHATTER_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
      process.exit(70);
    };
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    this.cleanups.push(() => {
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
    });
  }

  write(data: string): void {
    if (this.active) this.output.write(data);
  }

  /** Give the terminal back as it was. Safe to call more than once. */
  restore(): void {
    if (!this.active) return;
    this.active = false;
    if (this.escapeTimer) clearTimeout(this.escapeTimer);
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.output.write(ansi.reset + ansi.bracketedPasteOff + ansi.showCursor + ansi.altScreenOff);
    try {
      this.input.setRawMode(false);
    } catch {
      // The TTY may already be gone (terminal closed); nothing left to restore.
    }
    this.input.pause();
  }
}

export function exitCodeForSignal(signal: NodeJS.Signals): number {
  return 128 + (SIGNAL_NUMBERS[signal as (typeof EXIT_SIGNALS)[number]] ?? 0);
}
