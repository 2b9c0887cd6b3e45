import { memo } from 'react';
import { linkify } from '../linkify';

/** Message text as text nodes and safe links. User content never reaches the DOM as HTML. */
export const RichText = memo(function RichText({ text }: { text: string }) {
  const segments = linkify(text);
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
