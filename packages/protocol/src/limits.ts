/**
 * The version of the wire protocol described in docs/protocol.md. New optional
 * fields do not bump it; any change in the meaning of a frame or route does.
 */
export const PROTOCOL_VERSION = 1;

/** Rules shared by the server (which enforces them) and clients (which pre-check for nicer UX). */
export const LIMITS = {
  usernameMin: 3,
  usernameMax: 32,
  /** Letters, digits, underscore, dot and dash. Uniqueness is case-insensitive. */
  usernamePattern: '^[A-Za-z0-9_.\\-]+$',
  passwordMin: 8,
  passwordMax: 128,
  emailMax: 254,
  /** Maximum length of a message, in Unicode code points, after trimming. */
  messageMaxChars: 4000,
  /** Client-generated message ids: 1-64 characters of letters, digits, `_` and `-`. */
  clientIdPattern: '^[A-Za-z0-9_\\-]{1,64}$',
  /** Largest page of history one request may ask for. */
  historyPageMax: 100,
  /** Messages of `general` sent on connect unless the client asks otherwise. */
  historyOnConnect: 50,
  /**
   * Most messages the server replays for one room on resume. A client further behind
   * receives `resume_gap` and pages history instead.
   */
  resumeMaxMessages: 1000,
  /** Most rooms one `resume` (frame, `auth` field or URL parameter) may name. */
  resumeRoomsMax: 100,
  roomIdPattern: '^[a-z0-9][a-z0-9_\\-]{0,63}$',
  /**
   * Most users a `presence` frame lists. In a room with more online, individual arrivals and
   * departures are not announced (that would cost every member a write per connect); a
   * `presence_count` frame carries the number instead.
   */
  presenceListMax: 200,
} as const;

/** The room every user belongs to. */
export const DEFAULT_ROOM = 'general';

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
