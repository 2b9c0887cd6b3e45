import { memo, useRef } from 'react';
import type { PublicUser } from '@chatter/protocol';
import type { MessageRow as MessageRowData, Row } from '../chat/timeline';
import { formatFull, formatTime } from '../format';
import { Avatar } from './Avatar';
import { Name } from './Name';
import { RichText } from './RichText';
import { DeliveryStatus } from './DeliveryStatus';
import { AlertIcon, Spinner } from './icons';

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

export const StartRow = memo(function StartRow({ state, room }: { state: 'loading' | 'more' | 'beginning'; room: string }) {
  if (state === 'beginning') {
    return (
      <div className="row-start">
        <div className="row-start-icon" aria-hidden="true">#</div>
        <h2>Welcome to #{room}</h2>
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

/** Membership changes (joined, left, added, removed), folded into one line per run. */
export const MembershipRow = memo(function MembershipRow({ text, at, arrivedAt }: { text: string; at: string; arrivedAt?: number | undefined }) {
  const entrance = useEntrance(arrivedAt);
  return (
    <div className={`row-system${entrance}`}>
      <span className="system-pill">
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
}

export const MessageRow = memo(function MessageRow({ row, author, arrivedAt, offline = false, onRetry, meId }: MessageRowProps) {
  const entrance = useEntrance(arrivedAt);
  const side = row.own ? 'own' : 'other';
  const cls = `row-msg ${side}${row.groupStart ? ' group-start' : ''}${row.groupEnd ? ' group-end' : ''} state-${row.state}${entrance}`;
  const name = row.own ? 'You' : author.username;
  return (
    <div className={cls}>
      <div className="msg-gutter">{row.groupStart ? <Avatar user={author} size={36} /> : <Time iso={row.createdAt} className="msg-side-time" />}</div>
      <div className="msg-body">
        {row.groupStart && (
          <div className="msg-meta">
            <Name name={name} className="msg-author" />
            <Time iso={row.createdAt} className="msg-time" />
          </div>
        )}
        {row.deleted ? (
          <div className="bubble tombstone">
            <span className="bubble-text">Message deleted</span>
          </div>
        ) : (
          <div className={`bubble${row.action ? ' action' : ''}`}>
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
              <RichText text={row.text} />
            </span>
            {row.editedAt && (
              <time className="edited" dateTime={row.editedAt} title={`Edited ${formatFull(new Date(row.editedAt))}`}>
                {' '}
                (edited)
              </time>
            )}
          </div>
        )}
        {row.reactions.length > 0 && <Reactions reactions={row.reactions} meId={meId} />}
        {row.state !== 'sent' && <Delivery state={offline && row.state === 'sending' ? 'pending' : row.state} error={row.error} onRetry={onRetry} />}
      </div>
    </div>
  );
});

function Reactions({ reactions, meId }: { reactions: MessageRowData['reactions']; meId: number | undefined }) {
  return (
    <div className="reactions">
      {reactions.map((r) => (
        <span key={r.emoji} className={`reaction${meId !== undefined && r.users.includes(meId) ? ' mine' : ''}`} aria-label={`${r.emoji} ${r.count}`}>
          <span className="reaction-emoji">{r.emoji}</span> <span className="reaction-count">{r.count}</span>
        </span>
      ))}
    </div>
  );
}

function Delivery({ state, error, onRetry }: { state: MessageRowData['state']; error?: string | undefined; onRetry?: (() => void) | undefined }) {
  if (state === 'sent') return null;
  if (state === 'failed') {
    return (
      <div className="msg-delivery failed" role="status">
        <AlertIcon size={14} /> {error ?? 'Not sent.'}
        {onRetry && (
          <button type="button" className="link-button" onClick={onRetry}>
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
    case 'membership':
      return 36;
    case 'message': {
      // Roughly 60 characters per line on a phone, more on desktop; refined once measured.
      const lines = Math.max(1, Math.ceil(row.text.length / 60) + (row.text.match(/\n/g)?.length ?? 0));
      return (row.groupStart ? 34 : 4) + 18 + lines * 22 + (row.groupEnd ? 10 : 0) + (row.state !== 'sent' ? 20 : 0) + (row.reactions.length > 0 ? 28 : 0);
    }
  }
}
