/*
 * Decode what a terminal in raw mode sends into key presses: printable text, control keys, the
 * escape sequences of arrows and friends (both CSI `ESC [` and SS3 `ESC O` forms, with modifiers),
 * Alt+key as ESC followed by the key, and bracketed paste (`ESC [200~ ... ESC [201~`), which
 * arrives as one `paste` so pasted newlines do not send the message line by line.
 */

export type KeyName =
  | 'up' | 'down' | 'left' | 'right' | 'home' | 'end' | 'pageup' | 'pagedown' | 'insert' | 'delete'
  | 'enter' | 'tab' | 'backtab' | 'backspace' | 'escape' | 'f1' | 'f2' | 'f3' | 'f4' | 'f5' | 'f6'
  | 'f7' | 'f8' | 'f9' | 'f10' | 'f11' | 'f12';

export type Key =
  | { kind: 'text'; text: string }
  | { kind: 'paste'; text: string }
  | { kind: 'key'; name: KeyName; ctrl?: boolean; alt?: boolean; shift?: boolean }
  /** Ctrl+letter, lower case: `ctrl` 'c' for Ctrl+C. */
  | { kind: 'ctrl'; char: string }
  /** Alt+character (ESC then the character). */
  | { kind: 'alt'; char: string }
  | { kind: 'unknown'; sequence: string };

const TILDE_KEYS: Record<string, KeyName> = {
  '1': 'home', '2': 'insert', '3': 'delete', '4': 'end', '5': 'pageup', '6': 'pagedown', '7': 'home', '8': 'end',
  '11': 'f1', '12': 'f2', '13': 'f3', '14': 'f4', '15': 'f5', '17': 'f6', '18': 'f7', '19': 'f8', '20': 'f9',
  '21': 'f10', '23': 'f11', '24': 'f12',
};
const LETTER_KEYS: Record<string, KeyName> = {
  A: 'up', B: 'down', C: 'right', D: 'left', H: 'home', F: 'end', P: 'f1', Q: 'f2', R: 'f3', S: 'f4', Z: 'backtab',
};

const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';

export class KeyDecoder {
  private pending = '';
  private pasting: string | null = null;

  /**
   * Feed decoded text (stdin with setEncoding('utf8'), so multi-byte characters arrive whole).
   * Returns the keys complete so far; an incomplete escape sequence waits for the next chunk,
   * except a lone ESC at the end of a chunk, which is the Escape key.
   */
  feed(chunk: string): Key[] {
    let data = this.pending + chunk;
    this.pending = '';
    const keys: Key[] = [];
    while (data.length > 0) {
      if (this.pasting !== null) {
        const end = data.indexOf(PASTE_END);
        if (end === -1) {
          // Keep a possible partial end marker for the next chunk.
          const keep = partialSuffix(data, PASTE_END);
          this.pasting += data.slice(0, data.length - keep);
          this.pending = data.slice(data.length - keep);
          return keys;
        }
        this.pasting += data.slice(0, end);
        keys.push({ kind: 'paste', text: this.pasting });
        this.pasting = null;
        data = data.slice(end + PASTE_END.length);
        continue;
      }
      if (data.startsWith(PASTE_START)) {
        this.pasting = '';
        data = data.slice(PASTE_START.length);
        continue;
      }
      const c = data[0]!;
      if (c === '\x1b') {
        const parsed = parseEscape(data);
        if (parsed === 'incomplete') {
          this.pending = data;
          return keys;
        }
        keys.push(parsed.key);
        data = data.slice(parsed.length);
        continue;
      }
      const code = c.charCodeAt(0);
      if (c === '\r' || c === '\n') {
        keys.push({ kind: 'key', name: 'enter' });
        // Some terminals send CR LF for Enter.
        data = data.slice(c === '\r' && data[1] === '\n' ? 2 : 1);
        continue;
      }
      if (c === '\t') {
        keys.push({ kind: 'key', name: 'tab' });
        data = data.slice(1);
        continue;
      }
      if (c === '\x7f' || c === '\b') {
        keys.push({ kind: 'key', name: 'backspace' });
        data = data.slice(1);
        continue;
      }
      if (code < 0x20) {
        keys.push({ kind: 'ctrl', char: String.fromCharCode(code + 96) });
        data = data.slice(1);
        continue;
      }
      // A run of printable text: one key, so fast typing and unbracketed pastes stay cheap.
      let end = 1;
      while (end < data.length && data.charCodeAt(end) >= 0x20 && data[end] !== '\x7f' && data[end] !== '\x1b') end++;
      keys.push({ kind: 'text', text: data.slice(0, end) });
      data = data.slice(end);
    }
    return keys;
  }

  /** A lone ESC left over (no more bytes came): it was the Escape key. */
  flush(): Key[] {
    if (!this.pending) return [];
    const rest = this.pending;
    this.pending = '';
    if (rest === '\x1b') return [{ kind: 'key', name: 'escape' }];
    return [{ kind: 'unknown', sequence: rest }];
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }
}

function partialSuffix(data: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, data.length); n > 0; n--) {
    if (data.endsWith(marker.slice(0, n))) return n;
  }
  return 0;
}

function modifiers(param: string | undefined): { ctrl?: boolean; alt?: boolean; shift?: boolean } {
  const m = Number(param ?? '1') - 1;
  if (!(m > 0)) return {};
  return { ...(m & 1 && { shift: true }), ...(m & 2 && { alt: true }), ...(m & 4 && { ctrl: true }) };
}

function parseEscape(data: string): { key: Key; length: number } | 'incomplete' {
  if (data.length === 1) return 'incomplete';
  const second = data[1]!;
  if (second === '[') {
    // CSI: parameters (digits ; ?) then one final byte in @..~
    let i = 2;
    while (i < data.length && /[0-9;?<>=:]/.test(data[i]!)) i++;
    if (i >= data.length) return data.length > 32 ? { key: { kind: 'unknown', sequence: data }, length: data.length } : 'incomplete';
    const final = data[i]!;
    const params = data.slice(2, i).split(';');
    const sequence = data.slice(0, i + 1);
    if (final === '~') {
      const name = TILDE_KEYS[params[0] ?? ''];
      return { key: name ? { kind: 'key', name, ...modifiers(params[1]) } : { kind: 'unknown', sequence }, length: i + 1 };
    }
    const name = LETTER_KEYS[final];
    if (name) {
      const key: Key = name === 'backtab' ? { kind: 'key', name, shift: true } : { kind: 'key', name, ...modifiers(params[1]) };
      return { key, length: i + 1 };
    }
    return { key: { kind: 'unknown', sequence }, length: i + 1 };
  }
  if (second === 'O') {
    if (data.length < 3) return 'incomplete';
    const name = LETTER_KEYS[data[2]!];
    return { key: name ? { kind: 'key', name } : { kind: 'unknown', sequence: data.slice(0, 3) }, length: 3 };
  }
  if (second === '\x1b') return { key: { kind: 'key', name: 'escape' }, length: 1 };
  if (second === '\x7f' || second === '\b') return { key: { kind: 'key', name: 'backspace', alt: true }, length: 2 };
  if (second === '\r') return { key: { kind: 'key', name: 'enter', alt: true }, length: 2 };
  // Alt+character; take the whole code point so Alt+non-ASCII works too.
  const cp = data.codePointAt(1)!;
  const ch = String.fromCodePoint(cp);
  return { key: { kind: 'alt', char: ch }, length: 1 + ch.length };
}
