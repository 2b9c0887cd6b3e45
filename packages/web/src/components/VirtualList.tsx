import { memo, useCallback, useEffect, useImperativeHandle, useLayoutEffect, useMemo, useRef, useState, type FocusEvent, type KeyboardEvent, type ReactNode, type Ref } from 'react';
import { flushSync } from 'react-dom';
import { SizeIndex } from '../chat/sizeIndex';

/**
 * A windowed, bottom-anchored list for chat: only the rows near the viewport are in the DOM, so
 * 10,000 messages cost what 40 do. Rows have any height; each is measured once it renders
 * (ResizeObserver) and estimated until then.
 *
 * Two rules keep the view still:
 *  - pinned: when the reader is at the bottom, the list stays at the bottom as rows arrive or grow;
 *  - anchored: otherwise the first visible row keeps its place in the viewport, whatever is
 *    added above it (older history) or re-measured above it.
 * Both are applied in a layout effect, before the browser paints, so nothing ever jumps.
 *
 * The scroll range comes from the size index alone, never from the rows in the DOM: the space is
 * `overflow: clip`, so rows whose real height the index does not know yet (measurement comes a
 * moment later, from the ResizeObserver) cannot stretch it. Were it otherwise, the range would
 * depend on which rows are rendered and the rows on the scroll position; pinned to the bottom, a
 * new scrollbar narrowing every row made the two chase each other from one layout effect to the
 * next until React gave up ("Maximum update depth exceeded", error 185).
 *
 * Keyboard: with `focusable`, the list is one Tab stop (a roving tabindex, as in Slack and
 * Discord). Each focusable row marks its focus target with `data-row-focus`; Up/Down move between
 * those rows, Home/End go to the first and last, Escape calls `onEscape`. Moving past the rendered
 * window scrolls and renders the next row first. The focused row stays rendered (positioned where
 * it belongs) while the window moves away from it, so recycling never drops the focus; and when
 * the focused element itself goes away (an action bar that closes, a row that changes) the focus
 * goes back to its row rather than to the page.
 */

/**
 * A row's part in the roving focus: `none`, out of the Tab order; `stop`, the list's one Tab stop;
 * `within`, the focused row while the focus is in the list (its buttons and links are tabbable).
 */
export type RowFocus = 'none' | 'stop' | 'within';

export interface VirtualListHandle {
  scrollToBottom(smooth?: boolean): void;
  isPinned(): boolean;
}

interface VirtualListProps<T extends { key: string }> {
  items: readonly T[];
  estimate: (item: T) => number;
  renderItem: (item: T, index: number, focus: RowFocus) => ReactNode;
  /** Rows that take part in the roving focus (see above); without it the list itself is the Tab stop. */
  focusable?: (item: T) => boolean;
  /** Escape on a focused row: where the focus goes next (the composer). */
  onEscape?: () => void;
  /** Rows that move with their content; others (like day headers that re-home) are never anchors. */
  anchorable?: (item: T) => boolean;
  onNearTop?: () => void;
  onPinnedChange?: (pinned: boolean) => void;
  /** Extra pixels rendered above and below the viewport. */
  overscan?: number;
  className?: string;
  label: string;
  handleRef?: Ref<VirtualListHandle>;
  /** Start here instead of at the bottom: a row's key and its bottom edge's distance below the top of the view. */
  initialAnchor?: ListPosition | null;
  /** Told where the reader was when the list goes away (null: at the bottom), to come back to it. */
  onLeave?: (position: ListPosition | null) => void;
  /**
   * The last item is not the end (a window of older messages a link opened): the list never pins to
   * the bottom, keeps its anchor as rows are added below, and asks for them near the bottom.
   */
  detached?: boolean;
  onNearBottom?: () => void;
}

export interface ListPosition {
  key: string;
  delta: number;
}

const PIN_THRESHOLD = 48;
/** Breathing room under the newest row, so it does not touch the composer. */
const TAIL = 16;
const NEAR_TOP = 400;

export function VirtualList<T extends { key: string }>(props: VirtualListProps<T>) {
  const { items, estimate, renderItem, focusable, onEscape, anchorable, onNearTop, onPinnedChange, overscan = 800, className = '', label, handleRef, initialAnchor = null, onLeave, detached = false, onNearBottom } = props;
  const scrollerRef = useRef<HTMLDivElement>(null);
  /** Measured heights by row key; they outlive re-windowing and new item arrays. */
  const heights = useRef(new Map<string, number>());
  const estimates = useRef(new WeakMap<T, number>());
  const widthRef = useRef(0);
  const pinned = useRef(initialAnchor === null);
  const anchor = useRef<ListPosition | null>(initialAnchor);
  const [, setMeasureVersion] = useState(0);
  const [view, setView] = useState({ top: 0, height: 800 });

  // Rebuilt only when the rows change (a message arrives, a page of history is added): O(n).
  // Measurements afterwards update the index in place, O(log n) each.
  const { index, indexOf } = useMemo(() => {
    const cache = heights.current;
    const sizes = new Float64Array(items.length);
    const indexOf = new Map<string, number>();
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      indexOf.set(item.key, i);
      let size = cache.get(item.key);
      if (size === undefined) {
        size = estimates.current.get(item);
        if (size === undefined) estimates.current.set(item, (size = estimate(item)));
      }
      sizes[i] = size;
    }
    return { index: new SizeIndex(sizes), indexOf };
  }, [items, estimate]);

  const total = index.total;
  // Short conversations sit at the bottom, next to the composer, as in every chat app.
  const pad = Math.max(0, view.height - total - TAIL);
  const n = items.length;
  const start = n === 0 ? 0 : index.indexAt(view.top - overscan);
  const end = n === 0 ? 0 : Math.min(n, index.indexAt(view.top + view.height + overscan) + 1);

  /** The row that has (or last had) the focus, by key; it is the Tab stop while it is rendered. */
  const [active, setActive] = useState<string | null>(null);
  /** The focus is in the list: the active row stays rendered, and gets the focus back if it loses it to nothing. */
  const [focusWithin, setFocusWithin] = useState(false);
  const within = useRef(false);
  within.current = focusWithin;
  /** A row to focus as soon as it is rendered (moved to from beyond the window). */
  const pendingFocus = useRef<string | null>(null);
  const activeIndex = active === null ? undefined : indexOf.get(active);
  const kept = focusWithin && activeIndex !== undefined && (activeIndex < start || activeIndex >= end) ? activeIndex : undefined;
  let tabStop: number | undefined;
  if (focusable) {
    if (activeIndex !== undefined && (kept !== undefined || (activeIndex >= start && activeIndex < end))) tabStop = activeIndex;
    else {
      // The newest focusable row that starts in the view, else any rendered one.
      for (let i = end - 1; i >= start; i--) {
        if (!focusable(items[i]!)) continue;
        tabStop ??= i;
        if (index.offset(i) + pad < view.top + view.height) {
          tabStop = i;
          break;
        }
      }
    }
  }

  const latest = useRef({ items, index, indexOf, anchorable, focusable, onEscape, onNearTop, onPinnedChange, onLeave, start, end, pad, detached, onNearBottom });
  latest.current = { items, index, indexOf, anchorable, focusable, onEscape, onNearTop, onPinnedChange, onLeave, start, end, pad, detached, onNearBottom };
  useLayoutEffect(() => () => latest.current.onLeave?.(pinned.current ? null : anchor.current), []);

  /**
   * The anchor is the first row whose top is in view, and what stays put is its bottom edge: when
   * older messages arrive the anchor row may lose its header (it joins a group from above) and
   * shrink from the top, and its bubble must not move. A row only partly in view is never the
   * anchor: rows above the viewport may still be estimates, and would drag the view with them.
   */
  const recordAnchor = useCallback((scrollTop: number) => {
    const { items, index, anchorable } = latest.current;
    if (items.length === 0) return;
    let i = index.indexAt(scrollTop);
    if (index.offset(i) < scrollTop - 0.5 && i < items.length - 1) i++;
    while (i < items.length - 1 && anchorable && !anchorable(items[i]!)) i++;
    anchor.current = { key: items[i]!.key, delta: index.offset(i + 1) - scrollTop };
  }, []);
  /** A smooth scroll to the bottom is under way (until it arrives or the reader takes over). */
  const gliding = useRef(false);
  /** scrollTop we set ourselves: the scroll event it causes is not the reader moving. */
  const ownScrollTop = useRef<number | null>(null);
  /**
   * scrollTop as of the last scroll event or our own move. The reader's scroll changes scrollTop
   * at once but its event comes with the next frame; a render in between (a frame arriving) must
   * see the move, or a pinned list would snap the reader back to the bottom.
   */
  const knownTop = useRef<number | null>(null);
  const setScrollTop = (el: HTMLElement, top: number) => {
    el.scrollTop = top;
    ownScrollTop.current = el.scrollTop;
    knownTop.current = el.scrollTop;
  };

  const syncView = useCallback(() => {
    const el = scrollerRef.current;
    if (!el) return;
    const top = el.scrollTop;
    const height = el.clientHeight;
    setView((v) => {
      // Re-render only when the window of rows would change; most scroll events do not move it.
      const { items, index, start, end } = latest.current;
      if (v.height === height && items.length > 0) {
        const s = index.indexAt(top - overscan);
        const e = Math.min(items.length, index.indexAt(top + height + overscan) + 1);
        if (s === start && e === end) return v;
      }
      return { top, height };
    });
  }, [overscan]);

  const onScroll = useCallback(() => {
    const el = scrollerRef.current;
    if (!el) return;
    const below = el.scrollHeight - el.scrollTop - el.clientHeight;
    const atBottom = !latest.current.detached && below < PIN_THRESHOLD;
    // A smooth "jump to latest" passes through positions that are not the bottom; it stays pinned.
    if (gliding.current) {
      if (!atBottom) return void syncView();
      gliding.current = false;
    }
    knownTop.current = el.scrollTop;
    if (atBottom !== pinned.current) {
      pinned.current = atBottom;
      latest.current.onPinnedChange?.(atBottom);
    }
    const own = ownScrollTop.current !== null && Math.abs(el.scrollTop - ownScrollTop.current) < 1;
    ownScrollTop.current = null;
    if (!own) recordAnchor(el.scrollTop);
    syncView();
    if (el.scrollTop < NEAR_TOP) latest.current.onNearTop?.();
    if (latest.current.detached && below < NEAR_TOP) latest.current.onNearBottom?.();
  }, [recordAnchor, syncView]);

  // Keep the view still after every render: rows added, removed or re-measured.
  useLayoutEffect(() => {
    const el = scrollerRef.current;
    if (!el) return;
    // The reader moved away from the bottom and the scroll event is still to come: unpin now.
    const moved = knownTop.current !== null && Math.abs(el.scrollTop - knownTop.current) > 1;
    if (pinned.current && moved && !gliding.current && el.scrollHeight - el.scrollTop - el.clientHeight >= PIN_THRESHOLD) {
      pinned.current = false;
      latest.current.onPinnedChange?.(false);
      recordAnchor(el.scrollTop);
    }
    const i = anchor.current ? indexOf.get(anchor.current.key) : undefined;
    if (pinned.current) {
      const bottom = el.scrollHeight - el.clientHeight;
      if (!gliding.current && Math.abs(el.scrollTop - bottom) > 1) setScrollTop(el, bottom);
      recordAnchor(el.scrollTop);
    } else if (anchor.current && i !== undefined) {
      // Keep the same anchor across re-renders and measurements; only the reader's scrolling moves it.
      const target = index.offset(i + 1) - anchor.current.delta;
      if (Math.abs(el.scrollTop - target) > 1) setScrollTop(el, target);
      // Anchored where the room is shorter than the view (or than what lies below the anchor): it is at the bottom.
      if (!detached && el.scrollHeight - el.scrollTop - el.clientHeight < PIN_THRESHOLD) {
        pinned.current = true;
        latest.current.onPinnedChange?.(true);
      }
    } else {
      recordAnchor(el.scrollTop);
    }
    knownTop.current = el.scrollTop;
    syncView();
    // Focus a row moved to from beyond the window, now that it is rendered; or give the focus back
    // to the active row when what had it went away (the page would otherwise get it).
    const lost = within.current && (document.activeElement === null || document.activeElement === document.body);
    const key = pendingFocus.current ?? (lost ? active : null);
    if (key !== null) {
      const target = rowTarget(el, key);
      if (target) {
        pendingFocus.current = null;
        target.focus({ preventScroll: true });
        target.scrollIntoView({ block: 'nearest' });
      }
    }
  });

  // The focus leaves the list for something else, or for nothing (a click on the page).
  useEffect(() => {
    if (!focusWithin) return;
    const el = scrollerRef.current;
    const leave = (e: Event) => {
      if (el && e.target instanceof Node && !el.contains(e.target)) setFocusWithin(false);
    };
    document.addEventListener('focusin', leave);
    document.addEventListener('pointerdown', leave, true);
    return () => {
      document.removeEventListener('focusin', leave);
      document.removeEventListener('pointerdown', leave, true);
    };
  }, [focusWithin]);

  const onFocus = useCallback((e: FocusEvent<HTMLDivElement>) => {
    const el = scrollerRef.current;
    const { items, indexOf, focusable } = latest.current;
    if (!el || !focusable) return;
    setFocusWithin(true);
    if (e.target === el) {
      // The list itself (a click between rows): its Tab stop takes the focus, where there is one.
      const stop = el.querySelector<HTMLElement>('[data-row-focus][tabindex="0"]');
      stop?.focus({ preventScroll: true });
      return;
    }
    const key = (e.target as HTMLElement).closest<HTMLElement>('[data-key]')?.dataset.key;
    const i = key === undefined ? undefined : indexOf.get(key);
    if (key !== undefined && i !== undefined && focusable(items[i]!)) setActive(key);
  }, []);

  /** Focus the row at `i`, scrolling it into view; one beyond the window is rendered first. */
  const focusRow = useCallback(
    (i: number) => {
      const el = scrollerRef.current;
      const { items, index, pad } = latest.current;
      const item = items[i];
      if (!el || !item) return;
      const target = rowTarget(el, item.key);
      if (target) {
        target.focus({ preventScroll: true });
        target.scrollIntoView({ block: 'nearest' });
        return;
      }
      // Where the index says it is (measured, or estimated until it renders), made the anchor: its
      // bottom edge stays put while the rows between are measured, so it ends up in view.
      const top = index.offset(i) + pad;
      const bottom = index.offset(i + 1) + pad;
      if (pinned.current) {
        pinned.current = false;
        latest.current.onPinnedChange?.(false);
      }
      gliding.current = false;
      setScrollTop(el, top < el.scrollTop ? top : Math.min(top, bottom - el.clientHeight));
      anchor.current = { key: item.key, delta: index.offset(i + 1) - el.scrollTop };
      pendingFocus.current = item.key;
      setActive(item.key);
      syncView();
    },
    [syncView],
  );

  const onKeyDown = useCallback(
    (e: KeyboardEvent<HTMLDivElement>) => {
      gliding.current = false;
      const { items, indexOf, focusable, onEscape, onNearTop } = latest.current;
      const target = e.target as HTMLElement;
      if (!focusable || e.defaultPrevented || !target.hasAttribute('data-row-focus') || e.altKey || e.ctrlKey || e.metaKey) return;
      const key = target.closest<HTMLElement>('[data-key]')?.dataset.key;
      const at = key === undefined ? undefined : indexOf.get(key);
      if (at === undefined) return;
      let next: number | undefined;
      const find = (from: number, step: 1 | -1) => {
        for (let i = from; i >= 0 && i < items.length; i += step) if (focusable(items[i]!)) return i;
        return undefined;
      };
      switch (e.key) {
        case 'ArrowUp':
          next = find(at - 1, -1);
          // At the first row loaded: ask for older ones (Up again reaches them).
          if (next === undefined) onNearTop?.();
          break;
        case 'ArrowDown':
          next = find(at + 1, 1);
          break;
        case 'Home':
          next = find(0, 1);
          break;
        case 'End':
          next = find(items.length - 1, -1);
          break;
        case 'Escape':
          if (!onEscape) return;
          e.preventDefault();
          onEscape();
          return;
        default:
          return;
      }
      e.preventDefault();
      if (next !== undefined && next !== at) focusRow(next);
    },
    [focusRow],
  );

  // A glide that ended short of the bottom (rows grew on the way) finishes with a snap.
  useEffect(() => {
    const el = scrollerRef.current;
    if (!el) return;
    const onEnd = () => {
      if (!gliding.current) return;
      gliding.current = false;
      setScrollTop(el, el.scrollHeight - el.clientHeight);
    };
    el.addEventListener('scrollend', onEnd);
    return () => el.removeEventListener('scrollend', onEnd);
  }, []);

  // The first screen may not fill the viewport: keep asking for older rows until it does.
  useEffect(() => {
    const el = scrollerRef.current;
    if (el && el.scrollTop < NEAR_TOP) latest.current.onNearTop?.();
    if (el && latest.current.detached && el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_TOP) latest.current.onNearBottom?.();
  }, [items.length]);

  const observer = useMemo(() => {
    if (typeof ResizeObserver === 'undefined') return null;
    return new ResizeObserver((entries) => {
      const { index, indexOf } = latest.current;
      let changed = false;
      for (const entry of entries) {
        const key = (entry.target as HTMLElement).dataset.key;
        if (!key) continue;
        const h = entry.borderBoxSize?.[0]?.blockSize ?? (entry.target as HTMLElement).offsetHeight;
        if (h <= 0) continue;
        heights.current.set(key, h);
        const i = indexOf.get(key);
        if (i !== undefined && Math.abs(index.size(i) - h) > 0.5) {
          index.set(i, h);
          changed = true;
        }
      }
      // Synchronously, so the anchor is corrected before this frame is painted.
      if (changed) flushSync(() => setMeasureVersion((v) => v + 1));
    });
  }, []);
  useEffect(() => () => observer?.disconnect(), [observer]);

  // A new width reflows every row: heights measured at the old width are stale.
  useEffect(() => {
    const el = scrollerRef.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      const width = el.clientWidth;
      if (widthRef.current && Math.abs(width - widthRef.current) > 1) heights.current.clear();
      widthRef.current = width;
      syncView();
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [syncView]);

  useImperativeHandle(
    handleRef,
    () => ({
      scrollToBottom(smooth = false) {
        const el = scrollerRef.current;
        if (!el) return;
        pinned.current = true;
        latest.current.onPinnedChange?.(true);
        const far = el.scrollHeight - el.scrollTop - el.clientHeight > el.clientHeight * 3;
        gliding.current = smooth && !far;
        el.scrollTo({ top: el.scrollHeight, behavior: gliding.current ? 'smooth' : 'auto' });
        // Rows below may still be estimates: pinned, the next render finishes the trip to the bottom.
        syncView();
      },
      isPinned: () => pinned.current,
    }),
    [],
  );

  const stopGliding = useCallback(() => {
    gliding.current = false;
  }, []);

  const rendered: ReactNode[] = [];
  const focusOf = (i: number): RowFocus => (i !== tabStop ? 'none' : focusWithin ? 'within' : 'stop');
  const row = (i: number, top?: number) => {
    const item = items[i]!;
    rendered.push(
      <Measured key={item.key} id={item.key} observer={observer} top={top}>
        {renderItem(item, i, focusOf(i))}
      </Measured>,
    );
  };
  // The focused row beyond the window sits where it belongs, out of the flow. Before or after the
  // window's rows, as in the list, so React never moves its node (a move would drop the focus).
  const keptTop = kept === undefined ? undefined : index.offset(kept) - index.offset(start);
  if (kept !== undefined && kept < start) row(kept, keptTop);
  for (let i = start; i < end; i++) row(i);
  if (kept !== undefined && kept >= end) row(kept, keptTop);

  return (
    <div
      ref={scrollerRef}
      className={`vlist ${className}`}
      onScroll={onScroll}
      onWheel={stopGliding}
      onTouchStart={stopGliding}
      onKeyDown={onKeyDown}
      onFocus={onFocus}
      onPointerDown={stopGliding}
      // With focusable rows, one of them is the Tab stop; the list itself only when none is rendered.
      tabIndex={tabStop === undefined ? 0 : -1}
      role="region"
      aria-label={label}
    >
      <div className="vlist-space" style={{ height: total + pad + TAIL, overflow: 'clip' }}>
        <div className="vlist-window" role="list" style={{ transform: `translateY(${index.offset(start) + pad}px)` }}>
          {rendered}
        </div>
      </div>
    </div>
  );
}

/** The focus target of a rendered row, if it is rendered. */
function rowTarget(scroller: HTMLElement, key: string): HTMLElement | null {
  for (const row of scroller.querySelectorAll<HTMLElement>('.vlist-row')) {
    if (row.dataset.key === key) return row.querySelector<HTMLElement>('[data-row-focus]');
  }
  return null;
}

const Measured = memo(function Measured({ id, observer, top, children }: { id: string; observer: ResizeObserver | null; top?: number | undefined; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || !observer) return;
    observer.observe(el);
    return () => observer.unobserve(el);
  }, [observer]);
  return (
    <div ref={ref} data-key={id} role="listitem" className={`vlist-row${top === undefined ? '' : ' kept'}`} style={top === undefined ? undefined : { top }}>
      {children}
    </div>
  );
});
