import { memo, useEffect, useId, useImperativeHandle, useRef, useState, type KeyboardEvent, type Ref } from 'react';
import type { PublicUser, Reaction } from '@chatter/protocol';
import { describeReactors } from '../chat/emoji';
import type { MessageRow as MessageRowData, Row } from '../chat/timeline';
import { formatFull, formatTime } from '../format';
import { Avatar } from './Avatar';
import { Name } from './Name';
import { RichText } from './RichText';
import { DeliveryStatus } from './DeliveryStatus';
import { AddReactionIcon, AlertIcon, LinkIcon, Spinner } from './icons';
import type { RowFocus } from './VirtualList';

/** Rows mounted within this window of their arrival animate in; older ones (history, re-windowed) do not. */
const FRESH_MS = 1500;

function useEntrance(arrivedAt: number | undefined): string {
  const fresh = useRef(arrivedAt !== undefined && performance.now() - arrivedAt < FRESH_MS);
  return fresh.current ? ' enter' : '';
}

function Time({ iso, className }: { iso: string; className?: string }) {
  const d = new Date(iso);
  return (
    <time className={className} dateTime={iso} title={formatFull(d)}>
      {formatTime(d)}
    </time>
  );
}

export const StartRow = memo(function StartRow({ state, room, dm = false }: { state: 'loading' | 'more' | 'beginning'; room: string; dm?: boolean }) {
  if (state === 'beginning') {
    return (
      <div className="row-start">
        <div className="row-start-icon" aria-hidden="true">{dm ? '@' : '#'}</div>
        <h2>{dm ? `Your conversation with ${room}` : `Welcome to #${room}`}</h2>
        <p>This is the very beginning of the conversation.</p>
      </div>
    );
  }
  return (
    <div className="row-loading" aria-live="polite">
      {state === 'loading' ? (
        <>
          <Spinner /> Loading older messages…
        </>
      ) : (
        <span className="sr-only">Scroll up for older messages</span>
      )}
    </div>
  );
});

export const DayRow = memo(function DayRow({ label, iso }: { label: string; iso: string }) {
  return (
    <div className="row-day" role="separator" aria-label={label}>
      <span title={formatFull(new Date(iso))}>{label}</span>
    </div>
  );
});

/** Where the unread messages start. */
export function UnreadRow() {
  return (
    <div className="row-unread" role="separator" aria-label="New messages">
      <span>New messages</span>
    </div>
  );
}

/** Membership changes (joined, left, added, removed), folded into one line per run. */
export const MembershipRow = memo(function MembershipRow({
  text,
  everyone,
  at,
  arrivedAt,
  focus = 'none',
}: {
  text: string;
  /** Everyone named, when `text` folds some into "others": the line's tooltip. */
  everyone?: string | undefined;
  at: string;
  arrivedAt?: number | undefined;
  /** Its part in the list's keyboard focus. */
  focus?: RowFocus;
}) {
  const entrance = useEntrance(arrivedAt);
  return (
    <div className={`row-system${entrance}`}>
      <span className="system-pill" title={everyone} role="article" aria-label={everyone ?? text} tabIndex={focus === 'none' ? -1 : 0} data-row-focus="">
        <span className="system-dot" aria-hidden="true" />
        <span className="system-text">{text}</span>
        <Time iso={at} className="system-time" />
      </span>
    </div>
  );
});

interface MessageRowProps {
  row: MessageRowData;
  author: PublicUser;
  arrivedAt?: number;
  /** Not connected: nothing is being sent, whatever the outbox last tried. */
  offline?: boolean;
  onRetry?: () => void;
  /** The reader, to mark their own reactions. */
  meId?: number;
  /** Edit, delete and react; absent where the reader cannot act (offline copies, pending messages). */
  actions?: MessageActions;
  /** The emoji picker is open for this message: its actions stay shown. */
  picking?: boolean;
  /** A reactor's name by user id, for "who reacted"; stable while the names are. */
  nameOf?: (userId: number) => string | undefined;
  /** Its part in the list's keyboard focus (see VirtualList): the row is focusable, its controls tabbable only while it has the focus. */
  focus?: RowFocus;
  /** The message a link led to: highlighted for a moment. */
  linked?: boolean;
}

/** What a reader can do to a stored message. Stable callbacks, so rows stay memoised. */
export interface MessageActions {
  react(messageId: number, emoji: string, on: boolean): void;
  edit(messageId: number, text: string): void;
  remove(messageId: number): void;
  /** Open the emoji picker for a message, beside `anchor` (which gets focus back when it closes). */
  pick(messageId: number, anchor: HTMLElement): void;
  /** Copy the message's link (its address in this app) to the clipboard. */
  copyLink(messageId: number): void;
}

/** The quick reactions offered on every message. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'] as const;
const LONG_PRESS_MS = 500;

export const MessageRow = memo(function MessageRow({ row, author, arrivedAt, offline = false, onRetry, meId, actions, picking = false, nameOf, focus = 'none', linked = false }: MessageRowProps) {
  const entrance = useEntrance(arrivedAt);
  const [editing, setEditing] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);
  /** Delete was asked for once: the button asks "Delete for everyone?". */
  const [confirming, setConfirming] = useState(false);
  /**
   * The keyboard's focus is on the message or in it: its actions show. A state, not a CSS focus
   * selector: while the focus moves from the message to a button, nothing is focused for a moment,
   * and a bar hidden by CSS in that moment is not focusable, so the focus fell to the page.
   */
  const [keyboard, setKeyboard] = useState(false);
  const press = useRef<ReturnType<typeof setTimeout> | null>(null);
  const root = useRef<HTMLDivElement>(null);
  const bar = useRef<ActionBarHandle>(null);
  const uid = useId();
  const inner = focus === 'within' ? 0 : -1;
  // An edit that ends (saved or cancelled) gives the focus back to its message, not to the page.
  const wasEditing = useRef(false);
  useEffect(() => {
    const el = root.current;
    if (wasEditing.current && !editing && el && (document.activeElement === document.body || el.contains(document.activeElement))) el.focus({ preventScroll: true });
    wasEditing.current = editing;
  }, [editing]);
  const side = row.own ? 'own' : 'other';
  const actionable = actions !== undefined && row.id !== null && !row.deleted && row.state === 'sent';
  const cls = `row-msg ${side}${row.groupStart ? ' group-start' : ''}${row.groupEnd ? ' group-end' : ''} state-${row.state}${row.mentionsMe ? ' mentions-me' : ''}${linked ? ' linked' : ''}${entrance}${menuOpen || picking || keyboard ? ' actions-open' : ''}`;
  const name = row.own ? 'You' : author.username;
  const cancelPress = () => {
    if (press.current) clearTimeout(press.current);
    press.current = null;
  };
  useEffect(() => cancelPress, []);
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.target !== e.currentTarget) {
      // Escape in the actions, a chip or a link: back to the message (again: to the composer).
      if (e.key === 'Escape') {
        e.preventDefault();
        setConfirming(false);
        root.current?.focus();
      }
      return;
    }
    if (!actionable) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (row.own && (key === 'Enter' || key === 'e')) {
      e.preventDefault();
      setEditing(true);
    } else if (key === 'r' || key === '+') {
      e.preventDefault();
      bar.current?.pick();
    } else if (key === 'l') {
      e.preventDefault();
      actions.copyLink(row.id!);
    } else if (row.own && (key === 'Delete' || key === 'Backspace')) {
      // Asked twice, as with the mouse: the focus goes to "Delete for everyone?".
      e.preventDefault();
      setConfirming(true);
      bar.current?.focusDelete();
    }
  };
  return (
    <div
      ref={root}
      className={cls}
      role="article"
      aria-roledescription="message"
      aria-labelledby={`${row.groupStart ? `${uid}-meta ` : ''}${uid}-text`}
      tabIndex={focus === 'none' ? -1 : 0}
      data-row-focus=""
      onKeyDown={onKeyDown}
      onFocus={(e) => setKeyboard(e.target.matches(':focus-visible'))}
      onBlur={(e) => {
        // Not while the picker it opened is out: the focus comes back to the bar's button, which must still show.
        if (!picking && !(e.relatedTarget instanceof Node && e.currentTarget.contains(e.relatedTarget))) setKeyboard(false);
      }}
      // Phones have no hover: a long press opens the same actions.
      onTouchStart={actionable ? () => (press.current = setTimeout(() => setMenuOpen(true), LONG_PRESS_MS)) : undefined}
      onTouchEnd={cancelPress}
      onTouchMove={cancelPress}
      onMouseLeave={() => setMenuOpen(false)}
    >
      {/* First in the Tab order after the message: its actions, shown while it has the keyboard focus. */}
      {actionable && !editing && (
        <ActionBar
          handle={bar}
          tabbable={focus === 'within'}
          confirming={confirming}
          setConfirming={setConfirming}
          own={row.own}
          mine={(emoji) => meId !== undefined && row.reactions.some((r) => r.emoji === emoji && r.users.includes(meId))}
          onReact={(emoji, on) => {
            setMenuOpen(false);
            actions.react(row.id!, emoji, on);
          }}
          onEdit={() => {
            setMenuOpen(false);
            setEditing(true);
          }}
          onDelete={() => {
            setMenuOpen(false);
            actions.remove(row.id!);
          }}
          onPick={(anchor) => actions.pick(row.id!, anchor)}
          onCopyLink={() => {
            setMenuOpen(false);
            actions.copyLink(row.id!);
          }}
        />
      )}
      <div className="msg-gutter">{row.groupStart ? <Avatar user={author} size={36} /> : <Time iso={row.createdAt} className="msg-side-time" />}</div>
      <div className="msg-body">
        {row.groupStart && (
          <div className="msg-meta" id={`${uid}-meta`}>
            <Name name={name} className="msg-author" />
            <Time iso={row.createdAt} className="msg-time" />
          </div>
        )}
        {row.deleted ? (
          <div className="bubble tombstone" id={`${uid}-text`}>
            <span className="bubble-text">Message deleted</span>
          </div>
        ) : editing && actionable ? (
          <EditBox
            initial={row.raw}
            onSave={(text) => {
              setEditing(false);
              if (text !== row.raw) actions.edit(row.id!, text);
            }}
            onCancel={() => setEditing(false)}
          />
        ) : (
          <div className={`bubble${row.action ? ' action' : ''}`} id={`${uid}-text`}>
            {!row.groupStart && !row.action && (
              <span className="sr-only">
                <Name name={name} />:{' '}
              </span>
            )}
            <span className="bubble-text" dir="auto">
              {row.action && (
                <>
                  <span aria-hidden="true">* </span>
                  <Name name={author.username} className="action-author" />{' '}
                </>
              )}
              <RichText text={row.text} mentioned={row.mentioned} tabIndex={inner} />
            </span>
            {row.editedAt && (
              <time className="edited" dateTime={row.editedAt} title={`Edited ${formatFull(new Date(row.editedAt))}`}>
                {' '}
                (edited {formatTime(new Date(row.editedAt))})
              </time>
            )}
          </div>
        )}
        {row.reactions.length > 0 && (
          <Reactions
            reactions={row.reactions}
            meId={meId}
            nameOf={nameOf}
            tabIndex={inner}
            onToggle={actionable ? (emoji, on) => actions.react(row.id!, emoji, on) : undefined}
            onPick={actionable ? (anchor) => actions.pick(row.id!, anchor) : undefined}
          />
        )}
        {row.state !== 'sent' && <Delivery state={offline && row.state === 'sending' ? 'pending' : row.state} error={row.error} onRetry={onRetry} tabIndex={inner} />}
      </div>
    </div>
  );
}, sameMessageRow);

/**
 * The rows are rebuilt whenever the room changes, so each is a new object; one whose fields are
 * all the same draws the same. Compared field by field, a reaction or an edit re-renders its own
 * message, not the whole list.
 */
function sameMessageRow(a: MessageRowProps, b: MessageRowProps): boolean {
  if (!sameFields(a, b, 'row')) return false;
  return a.row === b.row || sameFields(a.row, b.row);
}

function sameFields<T extends object>(a: T, b: T, skip?: keyof T): boolean {
  const keys = Object.keys(b) as (keyof T)[];
  if (keys.length !== Object.keys(a).length) return false;
  return keys.every((key) => key === skip || a[key] === b[key]);
}

interface ActionBarHandle {
  /** Open the emoji picker from the bar's own button (the focus comes back to it). */
  pick(): void;
  /** Focus the delete button (asking "Delete for everyone?"), once it is rendered. */
  focusDelete(): void;
}

/**
 * A toolbar in the ARIA sense: one Tab stop (the button last used), Left/Right/Home/End between
 * its buttons. Shown on hover, on keyboard focus of its message, or after a long press.
 */
function ActionBar({
  handle,
  tabbable,
  confirming,
  setConfirming,
  own,
  mine,
  onReact,
  onEdit,
  onDelete,
  onPick,
  onCopyLink,
}: {
  handle: Ref<ActionBarHandle>;
  /** Its message has the keyboard focus: the bar is in the Tab order. */
  tabbable: boolean;
  confirming: boolean;
  setConfirming: (on: boolean) => void;
  own: boolean;
  mine: (emoji: string) => boolean;
  onReact: (emoji: string, on: boolean) => void;
  onEdit: () => void;
  onDelete: () => void;
  onPick: (anchor: HTMLElement) => void;
  onCopyLink: () => void;
}) {
  const bar = useRef<HTMLDivElement>(null);
  const addButton = useRef<HTMLButtonElement>(null);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const [current, setCurrent] = useState(0);
  const wantDelete = useRef(false);
  useImperativeHandle(handle, () => ({
    pick: () => addButton.current && onPick(addButton.current),
    focusDelete: () => {
      wantDelete.current = true;
    },
  }));
  useEffect(() => {
    if (!wantDelete.current) return;
    wantDelete.current = false;
    deleteButton.current?.focus();
  });
  const buttons = () => [...(bar.current?.querySelectorAll<HTMLButtonElement>('button') ?? [])];
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const all = buttons();
    const at = all.indexOf(e.target as HTMLButtonElement);
    if (at < 0) return;
    const to = e.key === 'ArrowRight' ? (at + 1) % all.length : e.key === 'ArrowLeft' ? (at + all.length - 1) % all.length : e.key === 'Home' ? 0 : e.key === 'End' ? all.length - 1 : -1;
    if (to < 0) return;
    e.preventDefault();
    all[to]!.focus();
  };
  const stop = (i: number) => (tabbable && i === current ? 0 : -1);
  let i = 0;
  return (
    <div
      ref={bar}
      className="msg-actions"
      role="toolbar"
      aria-label="Message actions"
      onMouseLeave={() => setConfirming(false)}
      onKeyDown={onKeyDown}
      onFocus={(e) => setCurrent(Math.max(0, buttons().findIndex((b) => b === (e.target as Node))))}
      // Leaving the bar takes back the question "Delete for everyone?".
      onBlur={(e) => {
        if (!(e.relatedTarget instanceof Node && e.currentTarget.contains(e.relatedTarget))) setConfirming(false);
      }}
    >
      {QUICK_REACTIONS.map((emoji) => {
        const on = mine(emoji);
        return (
          <button
            key={emoji}
            type="button"
            className={`msg-action emoji${on ? ' mine' : ''}`}
            aria-label={on ? `Remove reaction ${emoji}` : `React ${emoji}`}
            aria-pressed={on}
            tabIndex={stop(i++)}
            onClick={() => onReact(emoji, !on)}
          >
            {emoji}
          </button>
        );
      })}
      <button ref={addButton} type="button" className="msg-action add-reaction" aria-label="Add reaction…" aria-haspopup="dialog" title="Add reaction (R)" tabIndex={stop(i++)} onClick={(e) => onPick(e.currentTarget)}>
        <AddReactionIcon size={17} />
      </button>
      <button type="button" className="msg-action copy-link" aria-label="Copy link" title="Copy link (L)" tabIndex={stop(i++)} onClick={onCopyLink}>
        <LinkIcon size={16} />
      </button>
      {own && (
        <button type="button" className="msg-action" title="Edit (E)" tabIndex={stop(i++)} onClick={onEdit}>
          Edit
        </button>
      )}
      {own && (
        <button
          ref={deleteButton}
          type="button"
          className={`msg-action${confirming ? ' danger' : ''}`}
          title={confirming ? undefined : 'Delete (Del)'}
          tabIndex={stop(i++)}
          onClick={confirming ? onDelete : () => setConfirming(true)}
        >
          {confirming ? 'Delete for everyone?' : 'Delete'}
        </button>
      )}
    </div>
  );
}

/** Enter saves, Shift+Enter adds a line, Escape cancels. */
function EditBox({ initial, onSave, onCancel }: { initial: string; onSave: (text: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(initial);
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onCancel();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      if (text.trim() !== '') onSave(text);
    }
  };
  return (
    <div className="edit-box">
      <textarea aria-label="Edit message" value={text} onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown} autoFocus rows={Math.min(6, text.split('\n').length)} />
      <div className="edit-hint">
        Enter to save · Esc to cancel
        <button type="button" className="link-button" onClick={() => text.trim() !== '' && onSave(text)}>
          Save
        </button>
        <button type="button" className="link-button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function Reactions({
  reactions,
  meId,
  nameOf,
  tabIndex,
  onToggle,
  onPick,
}: {
  reactions: MessageRowData['reactions'];
  meId: number | undefined;
  nameOf: ((id: number) => string | undefined) | undefined;
  tabIndex: number;
  onToggle?: ((emoji: string, on: boolean) => void) | undefined;
  onPick?: ((anchor: HTMLElement) => void) | undefined;
}) {
  return (
    <div className="reactions">
      {reactions.map((r) => (
        <ReactionChip key={r.emoji} reaction={r} mine={meId !== undefined && r.users.includes(meId)} who={describeReactors(r, meId, nameOf ?? noName)} tabIndex={tabIndex} onToggle={onToggle} />
      ))}
      {onPick && (
        <button type="button" className="reaction add" aria-label="Add reaction…" aria-haspopup="dialog" title="Add reaction" tabIndex={tabIndex} onClick={(e) => onPick(e.currentTarget)}>
          <AddReactionIcon size={15} />
        </button>
      )}
    </div>
  );
}

const noName = () => undefined;

/**
 * One emoji's chip: a click toggles mine; hovering or focusing it (a long press on a phone) shows
 * who reacted in a tooltip, which is also the chip's accessible description.
 */
function ReactionChip({ reaction: r, mine, who, tabIndex, onToggle }: { reaction: Reaction; mine: boolean; who: string; tabIndex: number; onToggle?: ((emoji: string, on: boolean) => void) | undefined }) {
  const tipId = useId();
  const [pressed, setPressed] = useState(false);
  const press = useRef<ReturnType<typeof setTimeout> | null>(null);
  const longPressed = useRef(false);
  const cancel = () => {
    if (press.current) clearTimeout(press.current);
    press.current = null;
  };
  useEffect(() => cancel, []);
  // The tooltip of a long press stays until the next touch anywhere.
  useEffect(() => {
    if (!pressed) return;
    const hide = (e: Event) => {
      if (e.target instanceof Node && tip.current?.parentElement?.contains(e.target)) return;
      setPressed(false);
    };
    document.addEventListener('touchstart', hide, true);
    document.addEventListener('pointerdown', hide, true);
    return () => {
      document.removeEventListener('touchstart', hide, true);
      document.removeEventListener('pointerdown', hide, true);
    };
  }, [pressed]);
  const tip = useRef<HTMLSpanElement>(null);
  return (
    <button
      type="button"
      className={`reaction${mine ? ' mine' : ''}${pressed ? ' show-tip' : ''}`}
      aria-label={`${r.emoji} ${r.count}`}
      aria-describedby={tipId}
      aria-pressed={mine}
      tabIndex={tabIndex}
      disabled={!onToggle}
      onClick={() => {
        // The click that ends a long press only showed who reacted.
        if (longPressed.current) {
          longPressed.current = false;
          return;
        }
        onToggle?.(r.emoji, !mine);
      }}
      onTouchStart={(e) => {
        // Not the message's own long press (its action menu).
        e.stopPropagation();
        longPressed.current = false;
        cancel();
        press.current = setTimeout(() => {
          longPressed.current = true;
          setPressed(true);
        }, LONG_PRESS_MS);
      }}
      onTouchEnd={cancel}
      onTouchMove={cancel}
      onContextMenu={(e) => e.preventDefault()}
    >
      <span className="reaction-emoji" aria-hidden="true">
        {r.emoji}
      </span>{' '}
      <span className="reaction-count" aria-hidden="true">
        {r.count}
      </span>
      <span ref={tip} id={tipId} role="tooltip" className="reaction-tip">
        {who}
      </span>
    </button>
  );
}

function Delivery({ state, error, onRetry, tabIndex }: { state: MessageRowData['state']; error?: string | undefined; onRetry?: (() => void) | undefined; tabIndex: number }) {
  if (state === 'sent') return null;
  if (state === 'failed') {
    return (
      <div className="msg-delivery failed" role="status">
        <AlertIcon size={14} /> {error ?? 'Not sent.'}
        {onRetry && (
          <button type="button" className="link-button" tabIndex={tabIndex} onClick={onRetry}>
            Retry
          </button>
        )}
      </div>
    );
  }
  return (
    <div className="msg-delivery" data-state={state}>
      <DeliveryStatus state={state} />
    </div>
  );
}

export function estimateRow(row: Row): number {
  switch (row.type) {
    case 'start':
      return row.state === 'beginning' ? 150 : 40;
    case 'day':
      return 48;
    case 'unread':
      return 36;
    case 'membership':
      return 36;
    case 'message': {
      // Roughly 60 characters per line on a phone, more on desktop; refined once measured.
      const lines = Math.max(1, Math.ceil(row.text.length / 60) + (row.text.match(/\n/g)?.length ?? 0));
      return (row.groupStart ? 34 : 4) + 18 + lines * 22 + (row.groupEnd ? 10 : 0) + (row.state !== 'sent' ? 20 : 0) + (row.reactions.length > 0 ? 28 : 0);
    }
  }
}
