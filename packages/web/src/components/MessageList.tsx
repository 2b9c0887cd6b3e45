import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { describeTyping, type TimelineItem } from '@chatter/client';
import type { ChatModel, ChatState } from '../chat/model';
import { buildTimeline, type Row } from '../chat/timeline';
import { noteRecentEmoji } from '../chat/emoji';
import { roomTitle } from '../rooms/names';
import { connectionView } from './ConnectionIndicator';
import { ArrowDownIcon } from './icons';
import { DayRow, estimateRow, MembershipRow, MessageRow, StartRow, UnreadRow, type MessageActions } from './Rows';
import { VirtualList, type ListPosition, type RowFocus, type VirtualListHandle } from './VirtualList';

/** The picker and its emoji data load the first time someone opens it: not in the initial bundle. */
const EmojiPicker = lazy(() => import('./EmojiPicker'));

const anchorable = (row: Row) => row.type === 'message' || row.type === 'membership';
/** Escape from the message list: back to writing. */
const toComposer = () => document.getElementById('composer-input')?.focus();

function newestSeq(items: readonly TimelineItem[]): number {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (item.kind === 'message') return item.message.seq;
  }
  return 0;
}

export function MessageList({ state, model }: { state: ChatState; model: ChatModel }) {
  const { me, items, outgoing, hasMore, loadingOlder, arrivals, room, ready, dividerAfter } = state;
  const offline = connectionView(state.status, state.deviceOnline) !== 'online';
  const dm = state.info?.kind === 'dm';
  const title = state.info ? roomTitle(state.info, me.id) : room;
  const members = state.members;
  const nameOf = useCallback((id: number) => model.client.store.profile(id)?.username ?? members?.find((m) => m.user.id === id)?.user.username, [model, members]);
  const rows = useMemo(() => buildTimeline({ me, items, outgoing, hasMore, loadingOlder, dividerAfter, nameOf }), [me, items, outgoing, hasMore, loadingOlder, dividerAfter, nameOf]);
  const listRef = useRef<VirtualListHandle>(null);
  // Where the list starts: where the reader left this room, else at "new messages", else the bottom.
  // Taken when the list appears (the room's messages are in), and kept.
  const start = useRef<ListPosition | null | undefined>(undefined);
  const jump = state.jump?.window === state.window ? state.jump.messageId : null;
  if (ready && start.current === undefined) {
    const saved = model.positions.get(room);
    // A message a link led to: its row's bottom a little below the middle of the view.
    const linked = jump === null ? undefined : rows.find((r) => r.type === 'message' && r.id === jump);
    start.current = linked
      ? { key: linked.key, delta: Math.round(Math.max(200, window.innerHeight - 140) / 2) + 40 }
      : jump !== null
        ? (saved ?? null)
        : (saved ?? (rows.some((r) => r.type === 'unread') ? { key: 'unread', delta: 44 } : null));
  }
  const onLeave = useCallback((p: ListPosition | null) => model.positions.set(room, p), [model, room]);
  const [pinned, setPinned] = useState(true);
  const [unseen, setUnseen] = useState(0);

  // Count messages from others that arrive below the fold. Pages loaded below a window far back
  // (a message link) are not arrivals: only what comes while the list holds the room's end is.
  const lastSeq = useRef(newestSeq(items));
  const wasDetached = useRef(state.hasMoreNewer);
  useEffect(() => {
    const newest = newestSeq(items);
    const paged = wasDetached.current || state.hasMoreNewer;
    wasDetached.current = state.hasMoreNewer;
    if (newest > lastSeq.current && !paged && !(listRef.current?.isPinned() ?? true)) {
      let n = 0;
      for (let i = items.length - 1; i >= 0; i--) {
        const item = items[i]!;
        if (item.kind !== 'message') continue;
        if (item.message.seq <= lastSeq.current) break;
        if (item.message.author.id !== me.id) n++;
      }
      if (n > 0) setUnseen((u) => u + n);
    }
    lastSeq.current = Math.max(lastSeq.current, newest);
  }, [items, me.id, state.hasMoreNewer]);

  // Sending something takes you to the bottom to see it.
  const outgoingCount = useRef(outgoing.length);
  useEffect(() => {
    if (outgoing.length > outgoingCount.current) listRef.current?.scrollToBottom(true);
    outgoingCount.current = outgoing.length;
  }, [outgoing.length]);

  const onPinnedChange = useCallback(
    (p: boolean) => {
      setPinned(p);
      if (p) setUnseen(0);
      model.setPinned(p);
    },
    [model],
  );
  // The list's own layout effect may already have found the bottom (a room opened at "new
  // messages" with everything on screen) and reports only changes, so ask it rather than assume.
  useEffect(() => {
    if (ready) onPinnedChange(listRef.current?.isPinned() ?? start.current === null);
  }, [ready, onPinnedChange]);

  const onRetry = useCallback((clientId: string) => model.retry(clientId), [model]);
  // Which message the emoji picker is open for, and what opened it (focus goes back there).
  const [picker, setPicker] = useState<{ messageId: number; anchor: HTMLElement } | null>(null);
  const closePicker = useCallback(() => setPicker(null), []);
  const meId = me.id;
  const actions: MessageActions = useMemo(
    () => ({
      ...model.actions,
      // Every reaction added counts as used, from the picker, the quick reactions or a chip.
      react: (messageId, emoji, on) => {
        if (on) noteRecentEmoji(meId, emoji);
        model.actions.react(messageId, emoji, on);
      },
      pick: (messageId, anchor) => setPicker((p) => (p?.messageId === messageId && p.anchor === anchor ? null : { messageId, anchor })),
      copyLink: model.copyLink,
    }),
    [model, meId],
  );
  const pickingId = picker?.messageId ?? null;
  const pickedMessage = picker ? items.find((i) => i.kind === 'message' && i.message.id === picker.messageId) : undefined;
  const mineOnPicked = useMemo(
    () => new Set(pickedMessage?.kind === 'message' ? pickedMessage.message.reactions.filter((r) => r.users.includes(meId)).map((r) => r.emoji) : []),
    [pickedMessage, meId],
  );

  const renderItem = useCallback(
    (row: Row, _index: number, focus: RowFocus) => {
      switch (row.type) {
        case 'start':
          return <StartRow state={row.state} room={title} dm={dm} />;
        case 'day':
          return <DayRow label={row.label} iso={row.iso} />;
        case 'unread':
          return <UnreadRow />;
        case 'membership':
          return <MembershipRow text={row.text} everyone={row.everyone} at={row.at} arrivedAt={arrivals.get(row.key)} focus={focus} />;
        case 'message': {
          const author = row.own ? me : row.author;
          return (
            <MessageRow
              row={row}
              author={author}
              arrivedAt={arrivals.get(row.key)}
              offline={offline}
              meId={me.id}
              actions={actions}
              picking={row.id !== null && row.id === pickingId}
              nameOf={nameOf}
              focus={focus}
              linked={row.id !== null && row.id === jump}
              {...(row.state === 'failed' && { onRetry: () => onRetry(row.clientId) })}
            />
          );
        }
      }
    },
    [title, dm, arrivals, me, offline, onRetry, actions, pickingId, nameOf, jump],
  );

  return (
    <div className="messages">
      {ready ? (
        <VirtualList
          items={rows}
          estimate={estimateRow}
          renderItem={renderItem}
          anchorable={anchorable}
          focusable={anchorable}
          onEscape={toComposer}
          onNearTop={model.loadOlder}
          onPinnedChange={onPinnedChange}
          label={`Messages in ${dm ? title : `#${title}`}`}
          className="message-scroller"
          handleRef={listRef}
          initialAnchor={start.current ?? null}
          onLeave={onLeave}
          detached={state.hasMoreNewer}
          onNearBottom={model.loadNewer}
        />
      ) : (
        <MessagesSkeleton />
      )}
      {!pinned && (
        <button
          type="button"
          className={`jump-btn${unseen > 0 ? ' has-new' : ''}`}
          onClick={() => (state.hasMoreNewer ? void model.jumpToLatest() : listRef.current?.scrollToBottom(true))}
          aria-label={unseen > 0 ? `${unseen} new message${unseen === 1 ? '' : 's'}: jump to latest` : 'Jump to latest messages'}
        >
          {unseen > 0 && (
            <span>
              {unseen} new message{unseen === 1 ? '' : 's'}
            </span>
          )}
          <ArrowDownIcon size={16} />
        </button>
      )}
      {state.olderError && (
        <div className="older-error" role="alert">
          {state.olderError}{' '}
          <button type="button" className="link-button" onClick={model.loadOlder}>
            Try again
          </button>
        </div>
      )}
      {state.notice && (
        <div className="older-error" role="alert">
          {state.notice}{' '}
          <button type="button" className="link-button" onClick={model.dismissNotice}>
            OK
          </button>
        </div>
      )}
      {state.toast && <Toast toast={state.toast} onDone={model.dismissToast} />}
      {picker && (
        <Suspense fallback={null}>
          <EmojiPicker
            userId={meId}
            anchor={picker.anchor}
            mine={mineOnPicked}
            onPick={(emoji) => actions.react(picker.messageId, emoji, !mineOnPicked.has(emoji))}
            onClose={closePicker}
          />
        </Suspense>
      )}
      <div className="typing-line" aria-live="polite">
        {describeTyping(state.typing)}
      </div>
      <div className="sr-only" aria-live="polite" aria-atomic="true">
        {state.announcement?.text}
      </div>
    </div>
  );
}

/** "Link copied" for a moment; or, where the clipboard was refused, the link selected to copy by hand. */
function Toast({ toast, onDone }: { toast: NonNullable<ChatState['toast']>; onDone: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (toast.link !== undefined) {
      input.current?.focus();
      input.current?.select();
      return;
    }
    const timer = setTimeout(onDone, 2500);
    return () => clearTimeout(timer);
  }, [toast, onDone]);
  return (
    <div className="toast" role="status">
      {toast.text}
      {toast.link !== undefined && (
        <>
          {' '}
          <input ref={input} className="toast-link" readOnly value={toast.link} aria-label="Message link" onKeyDown={(e) => (e.key === 'Escape' || e.key === 'Enter') && onDone()} />
          <button type="button" className="link-button" onClick={onDone}>
            Done
          </button>
        </>
      )}
    </div>
  );
}

function MessagesSkeleton() {
  return (
    <div className="skeleton" aria-busy="true" aria-label="Loading messages">
      {[64, 40, 78, 52, 30].map((w, i) => (
        <div key={i} className={`skeleton-row${i % 3 === 2 ? ' own' : ''}`}>
          {i % 3 !== 2 && <span className="skeleton-avatar" />}
          <span className="skeleton-bubble" style={{ width: `${w}%` }} />
        </div>
      ))}
    </div>
  );
}
