import { normalizeServerUrl } from './config.js';

/*
 * Message links, the web app's: `<server>/#<roomId>/m/<messageId>` (packages/web/src/chat/model.ts,
 * `messageLink` and `parseHash`). The web app is served at the server's own URL, the one the
 * terminal connects to, so a link made here opens in a browser, and one copied there opens here.
 */

/** The link to a message, for a browser (or another terminal's `/open`). */
export function messageLink(server: string, room: string, messageId: number): string {
  return `${server}/#${encodeURIComponent(room)}/m/${messageId}`;
}

/** Whether text is meant as a link rather than a room name: anything with a scheme. */
export function looksLikeLink(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text.trim());
}

export type ParsedLink = { ok: true; server: string; room: string; messageId: number } | { ok: false; reason: string };

/**
 * A message link pasted by the user. `server` is normalized as the CLI normalizes its own server
 * URL, so comparing the two says whether the link belongs to the server this terminal is on.
 * The hash is read as the web app reads it: one room id, `m`, a positive message id.
 */
export function parseMessageLink(text: string): ParsedLink {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, reason: 'That is not a link.' };
  }
  const parts = url.hash.replace(/^#/, '').split('/');
  if (parts.length !== 3 || parts[1] !== 'm' || !/^[1-9][0-9]{0,15}$/.test(parts[2]!) || !parts[0]) {
    return { ok: false, reason: 'That is not a link to a message (they end in #<room>/m/<id>; "Copy link" in the web app, /link here).' };
  }
  let room: string;
  let server: string;
  try {
    room = decodeURIComponent(parts[0]);
    // The web app's page may be named (`/index.html`); the server is the directory it is in.
    server = normalizeServerUrl(`${url.protocol}//${url.host}${url.pathname.replace(/\/index\.html$/, '')}`);
  } catch {
    return { ok: false, reason: 'That is not a link to a message.' };
  }
  const messageId = Number(parts[2]);
  if (!Number.isSafeInteger(messageId)) return { ok: false, reason: 'That is not a link to a message.' };
  return { ok: true, server, room, messageId };
}
