import { graphemes } from '../term/width.js';
import type { CommandContext } from './commands.js';

export interface Completion {
  /** Index (in graphemes of the text before the cursor) where the word being completed starts. */
  start: number;
  /** The word as typed. */
  partial: string;
  /** Full replacements for the word, best first. */
  candidates: string[];
  /** Appended after a unique completion: a space, or ": " when addressing someone at line start. */
  suffix: string;
}

/**
 * What Tab can complete at the cursor: command names after a leading "/", a command's own
 * arguments (user names unless the command says otherwise), and user names anywhere else
 * ("@al" completes to "@alice").
 */
export function complete(ctx: CommandContext, beforeCursor: string): Completion | null {
  const chars = graphemes(beforeCursor);
  let start = chars.length;
  while (start > 0 && !/\s/.test(chars[start - 1]!)) start--;
  const word = chars.slice(start).join('');
  const head = chars.slice(0, start).join('');

  if (head === '' && word.startsWith('/') && !word.startsWith('//')) {
    const names = ctx.commands.names(word.slice(1)).map((n) => `/${n}`);
    return names.length ? { start, partial: word, candidates: names, suffix: ' ' } : null;
  }

  const commandMatch = /^\/(\S+)\s+/.exec(head);
  if (commandMatch && !head.startsWith('//')) {
    const command = ctx.commands.get(commandMatch[1]!);
    if (!command) return null;
    const index = head.slice(commandMatch[0].length).trim() === '' ? 0 : head.slice(commandMatch[0].length).trim().split(/\s+/).length;
    const candidates = command.complete ? command.complete(ctx, index, word) : matchUsers(ctx, word);
    return candidates.length ? { start, partial: word, candidates, suffix: ' ' } : null;
  }

  const at = word.startsWith('@') ? '@' : '';
  const users = matchUsers(ctx, word.slice(at.length)).map((u) => at + u);
  if (!users.length) return null;
  // "ali<Tab>" at the start of a line addresses someone, IRC style: "alice: ".
  return { start, partial: word, candidates: users, suffix: head === '' && !at ? ': ' : ' ' };
}

function matchUsers(ctx: CommandContext, partial: string): string[] {
  const p = partial.toLowerCase();
  const self = ctx.username?.toLowerCase();
  const names = ctx.knownUsers().filter((n) => n.toLowerCase().startsWith(p));
  // In the order knownUsers gives (the room's members first), but others before oneself:
  // completing your own name is rarely what you want.
  return names.sort((a, b) => Number(a.toLowerCase() === self) - Number(b.toLowerCase() === self));
}

/** Longest common prefix, case-insensitively matched but keeping the first candidate's case. */
export function commonPrefix(words: readonly string[]): string {
  if (words.length === 0) return '';
  let prefix = words[0]!;
  for (const w of words.slice(1)) {
    let i = 0;
    while (i < prefix.length && i < w.length && prefix[i]!.toLowerCase() === w[i]!.toLowerCase()) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix;
}
