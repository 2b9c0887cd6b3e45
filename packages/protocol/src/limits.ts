/**
 * The version of the wire protocol described in docs/protocol.md. New optional
 * fields do not bump it; any change in the meaning of a frame or route does.
 */
export const PROTOCOL_VERSION = 2;

/** Rules shared by the server (which enforces them) and clients (which pre-check for nicer UX). */
export const LIMITS = {
  usernameMin: 3,
  usernameMax: 32,
  /** Letters, digits, underscore, dot and dash. Uniqueness is case-insensitive. */
  usernamePattern: '^[A-Za-z0-9_.\\-]+$',
  passwordMin: 8,
  passwordMax: 128,
  emailMax: 254,
  /** Maximum length of a message, in Unicode code points, after trimming: the default; a server sets its own (`CHATTER_MESSAGE_MAX_CHARS`) and sends it in `hello.limits`. */
  messageMaxChars: 4000,
  /** Client-generated message ids: 1-64 characters of letters, digits, `_` and `-`. */
  clientIdPattern: '^[A-Za-z0-9_\\-]{1,64}$',
  /** Largest page of history one request may ask for. */
  historyPageMax: 100,
  /** Messages of each recently active room sent on connect unless the client asks otherwise. */
  historyOnConnect: 50,
  /** How many of the user's most recently active rooms get recent messages on connect. */
  initialHistoryRooms: 10,
  /**
   * Most events the server replays for one room on resume. A client further behind receives
   * `resume_gap` and loads the room again.
   */
  resumeMaxEvents: 1000,
  /** Largest page of events one `events` request may ask for. */
  eventsPageMax: 500,
  /** Most rooms one `resume` (frame, `auth` field or URL parameter) may name: every room a user can be in. */
  resumeRoomsMax: 500,
  /** Most rooms (channels and DMs) one user can be in. */
  roomsPerUserMax: 500,
  roomNameMax: 80,
  roomTopicMax: 250,
  /** Most people in a direct message, the user who opens it included. */
  dmMaxUsers: 10,
  /** Longest emoji a reaction may use, in UTF-16 code units (a family with skin tones is about 25). */
  emojiMaxChars: 32,
  /** Most different emoji on one message. */
  reactionsPerMessageMax: 20,
  /** Most reactors a message lists per emoji (the count is always exact). */
  reactionUsersListed: 100,
  /** Unread and mention counts stop at this (shown as "999+"): counting further costs, and says nothing more. */
  unreadCountMax: 999,
  /** A client sends `typing` at most this often while the user types. */
  typingIntervalMs: 3000,
  /** How long a typing notice shows unless renewed. */
  typingTtlMs: 5000,
  /** Most users one `GET /api/users?q=` answers with. */
  userSearchMax: 20,
  roomIdPattern: '^[a-z0-9][a-z0-9_\\-]{0,63}$',
  /**
   * Most users a `presence` frame lists. In a room with more online, individual arrivals and
   * departures are not announced (that would cost every member a write per connect); a
   * `presence_count` frame carries the number instead.
   */
  presenceListMax: 200,
} as const;

/** The room every user is placed in on registration (its id; its name may change). */
export const DEFAULT_ROOM = 'general';

let emojiPattern: RegExp | null = null;
/**
 * One emoji as Unicode defines them for display (RGI: flags, skin tones and ZWJ sequences
 * included): what a reaction may be. Built on first use; the `v` flag needs Node 20 / Chrome 112.
 */
export function isEmoji(text: string): boolean {
  emojiPattern ??= new RegExp('^\\p{RGI_Emoji}$', 'v');
  return text.length <= LIMITS.emojiMaxChars && emojiPattern.test(text);
}

/**
 * Compile `isEmoji`'s pattern now. The pattern is an alternation of every RGI sequence, several
 * thousand: V8 compiles it to bytecode on its first test (about 50 ms on the bench machine) and to
 * machine code on its second (about 10 ms), so a server that waits for the first reaction stalls
 * every room for that long, right then. A long-running process calls this once at start.
 */
export function prepareEmojiCheck(): void {
  isEmoji('👍');
  isEmoji('👍');
}

/**
 * The usernames a text mentions as `@username` (case as written; at most 20, in order of first
 * use). A mention starts the text or follows a character that cannot be part of a username or an
 * email address, so "ana@example.com" mentions nobody.
 */
export function mentionedUsernames(text: string): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  for (const m of text.matchAll(/(?<![A-Za-z0-9_.\-@])@([A-Za-z0-9_.\-]{3,32})/g)) {
    const name = m[1]!.replace(/[.\-]+$/, ''); // "@ana." ends a sentence
    const key = name.toLowerCase();
    if (name.length < LIMITS.usernameMin || seen.has(key)) continue;
    seen.add(key);
    found.push(name);
    if (found.length === 20) break;
  }
  return found;
}

/** Count Unicode code points, so an emoji counts as one character, as users expect. */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low surrogate is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** C0 and C1 control characters (and DEL), except tab and line feed: refused in message text. */
const MESSAGE_CONTROL_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The text a message will carry on every path (ack, live fan-out, storage, history), from what the
 * sender typed. The server applies it; clients apply it too, so that a pending copy shows exactly
 * what will be stored.
 *
 * - Lone UTF-16 surrogates become U+FFFD. SQLite stores UTF-8, which cannot hold them, so without
 *   this a live reader would see the text as sent and a resumed one a different text.
 * - NFC: canonically equivalent texts look identical, so normalising never changes what a reader
 *   sees; it makes the length limit count what the reader sees whatever the sender's keyboard
 *   composed (a decomposed "é" would count twice), and equal-looking texts equal strings.
 * - CR LF and lone CR become LF, so text pasted from any platform passes the control check.
 * - Leading and trailing white space is trimmed.
 */
export function normalizeMessageText(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').normalize('NFC').replace(/\r\n?/g, '\n').trim();
}

/**
 * Why a normalised text cannot be sent, or null when it can. Other C0/C1 controls are refused:
 * they have no meaning in chat, they can drive a terminal reader's screen, and each costs six bytes
 * in JSON.
 */
export function messageTextProblem(normalized: string, maxChars: number = LIMITS.messageMaxChars): string | null {
  if (normalized.length === 0) return 'A message cannot be empty.';
  if (MESSAGE_CONTROL_CHARS.test(normalized)) return 'A message cannot contain control characters (only line breaks and tabs).';
  if (codePointLength(normalized) > maxChars) return `A message can be at most ${maxChars} characters.`;
  return null;
}
