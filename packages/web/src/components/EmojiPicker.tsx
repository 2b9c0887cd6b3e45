import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { recentEmoji } from '../chat/emoji';
import { loadEmojiIndex, searchEmoji, type EmojiEntry, type EmojiIndex } from '../chat/emojiIndex';
import { useMediaQuery } from '../hooks';

/** Columns of the grid: arrow Up and Down move by this much. */
const COLS = 8;
const SKIN_TONES = ['', '🏻', '🏼', '🏽', '🏾', '🏿'] as const;
const SKIN_LABELS = ['Default skin tone', 'Light skin tone', 'Medium-light skin tone', 'Medium skin tone', 'Medium-dark skin tone', 'Dark skin tone'] as const;

function skinKey(userId: number): string {
  return `chatter.emoji.skin.${userId}`;
}

function storedSkin(userId: number): number {
  try {
    const n = Number(localStorage.getItem(skinKey(userId)));
    return Number.isInteger(n) && n >= 0 && n <= 5 ? n : 0;
  } catch {
    return 0;
  }
}

interface Item {
  entry: EmojiEntry;
  /** What picking it sends: recently used keeps the exact emoji used, elsewhere the chosen skin tone applies. */
  emoji: string;
}

interface Section {
  id: string;
  label: string;
  items: readonly Item[];
}

export interface EmojiPickerProps {
  userId: number;
  /** What opened it: the picker sits next to it on a desktop, and focus goes back to it on close. */
  anchor: HTMLElement;
  /** Emoji the user has already reacted with on this message (shown as selected). */
  mine: ReadonlySet<string>;
  onPick: (emoji: string) => void;
  onClose: () => void;
}

/**
 * Choose any emoji: type to search (names, keywords, `:shortcodes:`), arrows to move, Enter to
 * react, Escape to close. "Recently used" comes first. A popover beside the message on a desktop,
 * a bottom sheet on a phone. The emoji data is loaded the first time a picker opens.
 */
export default function EmojiPicker({ userId, anchor, mine, onPick, onClose }: EmojiPickerProps) {
  const sheet = useMediaQuery('(max-width: 767px)');
  const [index, setIndex] = useState<EmojiIndex | null>(null);
  const [failed, setFailed] = useState(false);
  const [query, setQuery] = useState('');
  const [active, setActive] = useState(0);
  const [skin, setSkin] = useState(() => storedSkin(userId));
  const [recent] = useState(() => recentEmoji(userId));
  const root = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const grid = useRef<HTMLDivElement>(null);
  const [place, setPlace] = useState<{ top: number; left: number } | null>(null);

  useEffect(() => {
    let live = true;
    loadEmojiIndex().then(
      (i) => live && setIndex(i),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, []);

  // Focus goes into the picker: the search where there is a keyboard; on a touch screen the
  // sheet itself, as the search would throw the on-screen keyboard over it unasked. It goes back
  // to what opened the picker, whichever way it closes.
  useEffect(() => {
    if (window.matchMedia('(pointer: fine)').matches) input.current?.focus();
    else root.current?.focus();
    return () => {
      if (anchor.isConnected) anchor.focus();
    };
  }, [anchor]);

  // Beside the anchor: below it when it fits, else above; inside the window.
  useLayoutEffect(() => {
    if (sheet) return setPlace(null);
    const el = root.current;
    if (!el) return;
    const a = anchor.getBoundingClientRect();
    const w = el.offsetWidth;
    const h = el.offsetHeight;
    const below = a.bottom + 6 + h <= window.innerHeight - 8;
    const top = below ? a.bottom + 6 : Math.max(8, a.top - 6 - h);
    const left = Math.min(Math.max(8, a.right - w), window.innerWidth - w - 8);
    setPlace({ top, left });
  }, [anchor, sheet]);

  // A click outside closes it (not the anchor: its own click toggles).
  useEffect(() => {
    const onDown = (e: PointerEvent) => {
      const t = e.target as Node;
      if (!root.current?.contains(t) && !anchor.contains(t)) onClose();
    };
    document.addEventListener('pointerdown', onDown, true);
    return () => document.removeEventListener('pointerdown', onDown, true);
  }, [anchor, onClose]);

  const sections: Section[] = useMemo(() => {
    if (!index) return [];
    const toned = (entry: EmojiEntry): Item => ({ entry, emoji: skin > 0 && entry.skins ? entry.skins[skin - 1]! : entry.emoji });
    if (query.trim() !== '') return [{ id: 'results', label: 'Search results', items: searchEmoji(index, query).map(toned) }];
    const recents = recent.flatMap((emoji) => {
      const entry = index.byEmoji.get(emoji);
      return entry ? [{ entry, emoji }] : [];
    });
    return [...(recents.length > 0 ? [{ id: 'recent', label: 'Recently used', items: recents }] : []), ...index.categories.map((c) => ({ id: c.id, label: c.label, items: c.entries.map(toned) }))];
  }, [index, query, recent, skin]);
  const flat = useMemo(() => sections.flatMap((s) => s.items), [sections]);

  useEffect(() => setActive(0), [query]);
  // The active emoji stays in view as the arrows move it (not as the pointer does: the list
  // would scroll under the mouse).
  const byKeys = useRef(false);
  useEffect(() => {
    if (!byKeys.current) return;
    byKeys.current = false;
    grid.current?.querySelector(`[data-i="${active}"]`)?.scrollIntoView({ block: 'nearest' });
  }, [active]);

  const pick = (emoji: string) => {
    onPick(emoji);
    onClose();
  };
  // A stable handle for the cells, so that moving the active emoji re-renders two cells, not all.
  const pickLatest = useRef(pick);
  pickLatest.current = pick;
  const pickRef = useCallback((emoji: string) => pickLatest.current(emoji), []);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const move = (d: number) => {
      e.preventDefault();
      byKeys.current = true;
      if (flat.length > 0) setActive((a) => Math.min(flat.length - 1, Math.max(0, a + d)));
    };
    switch (e.key) {
      case 'Escape':
        e.preventDefault();
        e.stopPropagation();
        onClose();
        return;
      case 'Enter': {
        if (e.target !== input.current) return;
        e.preventDefault();
        const item = flat[active];
        if (item) pick(item.emoji);
        return;
      }
      case 'ArrowRight':
        if (e.target === input.current && input.current.selectionStart !== input.current.value.length) return;
        return move(1);
      case 'ArrowLeft':
        if (e.target === input.current && input.current.selectionStart !== input.current.value.length) return;
        return move(-1);
      case 'ArrowDown':
        return move(COLS);
      case 'ArrowUp':
        return move(-COLS);
      case 'Tab': {
        // Focus stays inside while it is open: search, skin tones, back to search.
        const focusables = [...(root.current?.querySelectorAll<HTMLElement>('input, .skin-tone') ?? [])];
        const at = focusables.indexOf(document.activeElement as HTMLElement);
        const next = focusables[(at + (e.shiftKey ? -1 : 1) + focusables.length) % focusables.length];
        if (next) {
          e.preventDefault();
          next.focus();
        }
        return;
      }
    }
  };

  const current = flat[active];
  let i = 0;
  return (
    <>
      {sheet && <div className="emoji-backdrop" aria-hidden="true" />}
      <div
        ref={root}
        className={`emoji-picker${sheet ? ' sheet' : ''}`}
        role="dialog"
        aria-label="Add a reaction"
        tabIndex={-1}
        onKeyDown={onKeyDown}
        // Measured before it is placed: transparent, not hidden, so the search can take focus at once.
        style={place ? { top: place.top, left: place.left } : sheet ? undefined : { top: 0, left: 0, opacity: 0 }}
      >
        <div className="emoji-top">
          <input
            ref={input}
            className="emoji-search"
            type="search"
            placeholder="Search emoji"
            aria-label="Search emoji"
            role="combobox"
            aria-expanded="true"
            aria-controls="emoji-grid"
            aria-activedescendant={current ? `emoji-opt-${active}` : undefined}
            autoComplete="off"
            spellCheck={false}
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
          <div className="skin-tones" role="radiogroup" aria-label="Skin tone">
            {SKIN_TONES.map((tone, n) => (
              <button
                key={n}
                type="button"
                role="radio"
                aria-checked={skin === n}
                aria-label={SKIN_LABELS[n]}
                title={SKIN_LABELS[n]}
                className={`skin-tone tone-${n}${skin === n ? ' on' : ''}`}
                onClick={() => {
                  setSkin(n);
                  try {
                    localStorage.setItem(skinKey(userId), String(n));
                  } catch {
                    /* ignore */
                  }
                  input.current?.focus();
                }}
              >
                <span aria-hidden="true">{tone === '' ? '✋' : `✋${tone}`}</span>
              </button>
            ))}
          </div>
          {sheet && (
            <button type="button" className="emoji-close" onClick={onClose}>
              Close
            </button>
          )}
        </div>
        <div ref={grid} className="emoji-scroll" id="emoji-grid" role="listbox" aria-label="Emoji">
          {failed ? (
            <p className="emoji-empty" role="alert">
              Could not load the emoji. Check the connection and open the picker again.
            </p>
          ) : !index ? (
            <p className="emoji-empty">Loading emoji…</p>
          ) : flat.length === 0 ? (
            <p className="emoji-empty" role="status">
              No emoji match “{query.trim()}”.
            </p>
          ) : (
            sections.map((s) => (
              <div key={s.id} role="group" aria-label={s.label}>
                <div className="emoji-section" aria-hidden="true">
                  {s.label}
                </div>
                <div className="emoji-grid">
                  {s.items.map(({ entry, emoji }) => {
                    const at = i++;
                    return <Cell key={`${s.id}:${emoji}`} at={at} emoji={emoji} name={entry.name} active={at === active} mine={mine.has(emoji)} onHover={setActive} onPick={pickRef} />;
                  })}
                </div>
              </div>
            ))
          )}
        </div>
        <div className="emoji-preview" aria-hidden="true">
          {current ? (
            <>
              <span className="emoji-preview-glyph">{current.emoji}</span>
              <span className="emoji-preview-name">{current.entry.name}</span>
              <span className="emoji-preview-code">:{current.entry.codes[0]}:</span>
            </>
          ) : (
            <span className="emoji-preview-name">Pick a reaction</span>
          )}
        </div>
      </div>
    </>
  );
}

/** One emoji of the grid; memoised, as the grid holds nearly two thousand. */
const Cell = memo(function Cell({ at, emoji, name, active, mine, onHover, onPick }: { at: number; emoji: string; name: string; active: boolean; mine: boolean; onHover: (at: number) => void; onPick: (emoji: string) => void }) {
  return (
    <span
      id={`emoji-opt-${at}`}
      data-i={at}
      role="option"
      aria-selected={active}
      aria-label={`${emoji} ${name}${mine ? ' (reacted)' : ''}`}
      className={`emoji-option${active ? ' active' : ''}${mine ? ' mine' : ''}`}
      onPointerMove={active ? undefined : () => onHover(at)}
      onClick={() => onPick(emoji)}
    >
      {emoji}
    </span>
  );
});
