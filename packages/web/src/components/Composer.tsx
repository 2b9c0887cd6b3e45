import { useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { LIMITS, codePointLength } from '@chatter/protocol';
import { SendIcon } from './icons';

interface ComposerProps {
  room: string;
  offline: boolean;
  /** The device itself has no network (rather than the server being unreachable). */
  deviceOffline: boolean;
  waiting: number;
  onSend: (text: string) => void;
  inputRef: React.RefObject<HTMLTextAreaElement | null>;
}

const MAX_HEIGHT = 200;

/** Enter sends, Shift+Enter adds a line. Offline it still takes messages: they wait in the outbox. */
export function Composer({ room, offline, deviceOffline, waiting, onSend, inputRef }: ComposerProps) {
  const [text, setText] = useState('');
  const length = codePointLength(text.trim());
  const tooLong = length > LIMITS.messageMaxChars;
  const canSend = length > 0 && !tooLong;

  // Grow with the text up to a limit, then scroll inside.
  useLayoutEffect(() => {
    const el = inputRef.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT)}px`;
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
          {waiting > 0
            ? `${waiting} message${waiting === 1 ? '' : 's'} will be sent when you're back online`
            : "what you send now goes out when you're back"}
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
          Message #{room}
        </label>
        <textarea
          id="composer-input"
          ref={inputRef}
          className="composer-input"
          rows={1}
          placeholder={offline ? `Message #${room} (sends when back online)` : `Message #${room}`}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          aria-describedby="composer-help"
          aria-invalid={tooLong || undefined}
          enterKeyHint="send"
          autoComplete="off"
        />
        <button type="submit" className="send-btn" aria-label="Send message" aria-disabled={!canSend}>
          <SendIcon size={18} />
        </button>
      </form>
      <p id="composer-help" className="composer-help">
        {remaining < 200 ? (
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
