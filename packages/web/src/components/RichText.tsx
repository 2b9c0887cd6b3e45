import { Fragment, memo, type ReactNode } from 'react';
import { linkify } from '../linkify';
import { stripBidi } from '../text';

const MENTION = /(^|[^\w@.-])@([A-Za-z0-9_.-]{1,32})/g;
const NO_NAMES: readonly string[] = [];

/** Plain text with the `@name`s of `mentioned` (lowercased usernames) marked. */
function withMentions(text: string, mentioned: readonly string[], key: number): ReactNode {
  if (mentioned.length === 0 || !text.includes('@')) return text;
  const out: ReactNode[] = [];
  let last = 0;
  for (const m of text.matchAll(MENTION)) {
    // A trailing dot ends the sentence, not the name.
    const name = m[2]!.replace(/\.+$/, '');
    if (!mentioned.includes(name.toLowerCase())) continue;
    const at = m.index + m[1]!.length;
    if (at > last) out.push(text.slice(last, at));
    out.push(
      <span key={`${key}-${at}`} className="mention">
        @{name}
      </span>,
    );
    last = at + 1 + name.length;
  }
  if (last === 0) return text;
  out.push(text.slice(last));
  return out;
}

/** Same page, another route (`#room` or `#room/m/id`): following it only changes the hash. */
function isInApp(href: string): boolean {
  if (typeof location === 'undefined') return false;
  try {
    const url = new URL(href);
    return url.origin === location.origin && url.pathname === location.pathname && url.search === location.search && url.hash.length > 1;
  } catch {
    return false;
  }
}

/** Message text as text nodes and safe links, without bidi controls. User content never reaches the DOM as HTML. */
export const RichText = memo(function RichText({ text, mentioned = NO_NAMES, tabIndex }: { text: string; mentioned?: readonly string[]; /** Links out of the Tab order (-1) unless their message has the focus. */ tabIndex?: number }) {
  const segments = linkify(stripBidi(text));
  return (
    <>
      {segments.map((s, i) =>
        s.kind === 'text' ? (
          <Fragment key={i}>{withMentions(s.text, mentioned, i)}</Fragment>
        ) : (
          isInApp(s.href) ? (
            // A link into this app (a message link): it opens here, as a change of the address, not in a new tab.
            <a key={i} href={s.href} className="in-app" tabIndex={tabIndex}>
              {s.text}
            </a>
          ) : (
            <a key={i} href={s.href} target="_blank" rel="noopener noreferrer nofollow ugc" tabIndex={tabIndex}>
              {s.text}
            </a>
          )
        ),
      )}
    </>
  );
});
