import { useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { LIMITS, codePointLength, messageTextProblem, normalizeMessageText, type PublicUser } from '@chatter/protocol';
import { Avatar } from './Avatar';
import { Name } from './Name';
import { DeliveryStatus } from './DeliveryStatus';
import { SendIcon } from './icons';

interface ComposerProps {
  /** The room as the label names it: "#general", or the people of a DM. */
  room: string;
  offline: boolean;
  /** The device itself has no network (rather than the server being unreachable). */
  deviceOffline: boolean;
  waiting: number;
  onSend: (text: string) => void;
  /** The user typed (the SDK throttles the notices it sends). */
  onTyping?: () => void;
  inputRef: React.RefObject<HTMLTextAreaElement | null>;
  /** Where the unsent text of this room is kept, so that a reload does not lose it. */
  draftKey: string;
  /** The server's longest message (from its hello); the protocol's default until then. */
  maxChars?: number;
  /** People `@` offers: the room's members first, then anyone the search finds. */
  mentions?: { members: readonly PublicUser[]; search: (prefix: string) => Promise<readonly PublicUser[]> };
}

const MENTION_MAX = 8;
/** An `@name` being typed just before the caret. */
const TYPING_MENTION = /(^|\s)@([A-Za-z0-9_.-]{0,32})$/;

/** The `@prefix` left of the caret, or null. */
function mentionAt(text: string, caret: number): { start: number; prefix: string } | null {
  const m = TYPING_MENTION.exec(text.slice(0, caret));
  return m ? { start: m.index + m[1]!.length, prefix: m[2]! } : null;
}

const MAX_HEIGHT = 200;

/** Per user and room, in localStorage; removed once sent (or on logout, see `clearDrafts`). */
function loadDraft(key: string): string {
  try {
    return localStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

function saveDraft(key: string, text: string): void {
  try {
    if (text === '') localStorage.removeItem(key);
    else localStorage.setItem(key, text);
  } catch {
    /* storage full or disabled: the draft lives as long as the page */
  }
}

export function draftKey(userId: number, room: string): string {
  return `chatter.draft.${userId}.${room}`;
}

/** Forget every draft of a user: they are private text, and the next person on this browser must not see them. */
export function clearDrafts(userId: number): void {
  try {
    const prefix = `chatter.draft.${userId}.`;
    for (const key of Object.keys(localStorage)) if (key.startsWith(prefix)) localStorage.removeItem(key);
  } catch {
    /* ignore */
  }
}

/** Enter sends, Shift+Enter adds a line. Offline it still takes messages: they wait in the outbox. */
export function Composer({ room, offline, deviceOffline, waiting, onSend, onTyping, inputRef, draftKey: key, mentions, maxChars = LIMITS.messageMaxChars }: ComposerProps) {
  const [text, setText] = useState(() => loadDraft(key));
  const [caret, setCaret] = useState(0);
  const [closedAt, setClosedAt] = useState<number | null>(null);
  const typed = mentionAt(text, caret);
  const query = typed && closedAt !== typed.start ? typed : null;
  const [found, setFound] = useState<{ prefix: string; users: readonly PublicUser[] }>({ prefix: '', users: [] });
  const [active, setActive] = useState(0);
  const search = mentions?.search;
  useEffect(() => {
    if (!query || !search || query.prefix === '') return;
    let live = true;
    const t = setTimeout(() => {
      search(query.prefix).then(
        (users) => live && setFound({ prefix: query.prefix, users }),
        () => {},
      );
    }, 120);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [query?.prefix, search]); // eslint-disable-line react-hooks/exhaustive-deps
  const options = useMemo(() => {
    if (!query || !mentions) return [];
    const p = query.prefix.toLowerCase();
    const out: PublicUser[] = [];
    const seen = new Set<number>();
    const add = (u: PublicUser) => {
      if (seen.has(u.id) || !u.username.toLowerCase().startsWith(p) || out.length >= MENTION_MAX) return;
      seen.add(u.id);
      out.push(u);
    };
    for (const u of [...mentions.members].sort((a, b) => a.username.localeCompare(b.username))) add(u);
    if (found.prefix !== '' && p.startsWith(found.prefix.toLowerCase())) for (const u of found.users) add(u);
    return out;
  }, [query, mentions, found]);
  const listOpen = options.length > 0;
  useEffect(() => setActive(0), [query?.prefix, query?.start]);
  const pick = (u: PublicUser) => {
    if (!query) return;
    const before = text.slice(0, query.start);
    const after = text.slice(caret);
    const inserted = `@${u.username} `;
    const next = before + inserted + after.replace(/^ /, '');
    setText(next);
    const pos = before.length + inserted.length;
    setCaret(pos);
    requestAnimationFrame(() => {
      const el = inputRef.current;
      if (el) {
        el.focus();
        el.setSelectionRange(pos, pos);
      }
    });
  };
  const normalized = normalizeMessageText(text);
  const length = codePointLength(normalized);
  const tooLong = length > maxChars;
  // The server's rule, so a text it would refuse (control characters pasted from a terminal, say)
  // is explained here instead of leaving and failing.
  const problem = length > 0 && !tooLong ? messageTextProblem(normalized, maxChars) : null;
  const canSend = length > 0 && !tooLong && !problem;

  // Another room has its own draft.
  const shownKey = useRef(key);
  useEffect(() => {
    if (shownKey.current === key) return;
    shownKey.current = key;
    setText(loadDraft(key));
  }, [key]);
  useEffect(() => saveDraft(shownKey.current, text), [text]);

  // Ready to type on arrival (after signing in, a reload, another room), where there is a
  // keyboard: on a touch screen, focus would throw a keyboard over half the chat unasked.
  useEffect(() => {
    if (window.matchMedia('(pointer: fine)').matches) inputRef.current?.focus();
  }, [room, inputRef]);

  // Grow with the text up to a limit, then scroll inside. Empty, it is one line whatever the
  // placeholder would need: Chromium counts a wrapping placeholder in scrollHeight.
  useLayoutEffect(() => {
    const el = inputRef.current;
    if (!el) return;
    el.style.height = '';
    if (text !== '') el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT)}px`;
  }, [text, inputRef]);

  const send = () => {
    if (!canSend) return;
    onSend(text);
    setText('');
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (listOpen && query) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setActive((a) => (a + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length);
        return;
      }
      if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && !e.nativeEvent.isComposing) {
        e.preventDefault();
        pick(options[Math.min(active, options.length - 1)]!);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setClosedAt(query.start);
        return;
      }
    }
    // isComposing: Enter that confirms an IME candidate (Japanese, Chinese...) must not send.
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  };

  const remaining = maxChars - length;
  return (
    <div className={`composer${offline ? ' is-offline' : ''}`}>
      {offline && (
        <p className="composer-note" role="status">
          <span className="composer-note-dot" aria-hidden="true" />
          {`${deviceOffline ? 'Offline' : 'Not connected'} · `}
          {waiting > 0 ? <DeliveryStatus state="pending" count={waiting} /> : "what you send now goes out when you're back"}
        </p>
      )}
      {listOpen && (
        <ul id="mention-list" className="mention-list" role="listbox" aria-label="People to mention">
          {options.map((u, i) => (
            <li
              key={u.id}
              id={`mention-${u.id}`}
              role="option"
              aria-selected={i === active}
              className={`mention-option${i === active ? ' active' : ''}`}
              // Keep the focus in the textarea.
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => pick(u)}
            >
              <Avatar user={u} size={24} />
              <Name name={u.username} />
            </li>
          ))}
        </ul>
      )}
      <form
        className="composer-box"
        onSubmit={(e) => {
          e.preventDefault();
          send();
          inputRef.current?.focus();
        }}
      >
        <label htmlFor="composer-input" className="sr-only">
          Message {room}
        </label>
        <textarea
          id="composer-input"
          ref={inputRef}
          className="composer-input"
          rows={1}
          placeholder={`Message ${room}`}
          value={text}
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={listOpen}
          aria-controls={listOpen ? 'mention-list' : undefined}
          aria-activedescendant={listOpen ? `mention-${options[Math.min(active, options.length - 1)]!.id}` : undefined}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
          onChange={(e) => {
            setText(e.target.value);
            setCaret(e.target.selectionStart);
            if (e.target.value.trim() !== '') onTyping?.();
          }}
          onKeyDown={onKeyDown}
          aria-describedby="composer-help"
          aria-invalid={tooLong || problem !== null || undefined}
          enterKeyHint="send"
          autoComplete="off"
        />
        <button type="submit" className="send-btn" aria-label="Send message" aria-disabled={!canSend}>
          <SendIcon size={18} />
        </button>
      </form>
      <p id="composer-help" className="composer-help">
        {problem ? (
          <span className="over">{problem}</span>
        ) : remaining < 200 ? (
          <span className={tooLong ? 'over' : ''}>
            {tooLong ? `${-remaining} characters over the limit` : `${remaining} characters left`}
          </span>
        ) : (
          <span className="composer-keys">
            <kbd>Enter</kbd> to send · <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line
          </span>
        )}
      </p>
    </div>
  );
}
