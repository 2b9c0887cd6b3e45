import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { LIMITS, codePointLength, messageTextProblem, normalizeMessageText } from '@chatter/protocol';
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
export function Composer({ room, offline, deviceOffline, waiting, onSend, onTyping, inputRef, draftKey: key }: ComposerProps) {
  const [text, setText] = useState(() => loadDraft(key));
  const normalized = normalizeMessageText(text);
  const length = codePointLength(normalized);
  const tooLong = length > LIMITS.messageMaxChars;
  // The server's rule, so a text it would refuse (control characters pasted from a terminal, say)
  // is explained here instead of leaving and failing.
  const problem = length > 0 && !tooLong ? messageTextProblem(normalized) : null;
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
    // isComposing: Enter that confirms an IME candidate (Japanese, Chinese...) must not send.
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  };

  const remaining = LIMITS.messageMaxChars - length;
  return (
    <div className={`composer${offline ? ' is-offline' : ''}`}>
      {offline && (
        <p className="composer-note" role="status">
          <span className="composer-note-dot" aria-hidden="true" />
          {`${deviceOffline ? 'Offline' : 'Not connected'} · `}
          {waiting > 0 ? <DeliveryStatus state="pending" count={waiting} /> : "what you send now goes out when you're back"}
        </p>
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
          onChange={(e) => {
            setText(e.target.value);
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
