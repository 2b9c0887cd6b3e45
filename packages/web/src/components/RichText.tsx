import { memo } from 'react';
import { linkify } from '../linkify';
import { stripBidi } from '../text';

/** Message text as text nodes and safe links, without bidi controls. User content never reaches the DOM as HTML. */
export const RichText = memo(function RichText({ text }: { text: string }) {
  const segments = linkify(stripBidi(text));
  return (
    <>
      {segments.map((s, i) =>
        s.kind === 'text' ? (
          s.text
        ) : (
          <a key={i} href={s.href} target="_blank" rel="noopener noreferrer nofollow ugc">
            {s.text}
          </a>
        ),
      )}
    </>
  );
});
