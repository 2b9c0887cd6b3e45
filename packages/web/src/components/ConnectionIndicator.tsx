import { useEffect, useState } from 'react';
import type { StatusEvent } from '@chatter/client';
import { useNow } from '../hooks';
import { RefreshIcon, Spinner } from './icons';

export type ConnectionView = 'online' | 'connecting' | 'reconnecting' | 'offline';

/** The device's own network going away is reported first: the socket only notices at its next heartbeat. */
export function connectionView(status: StatusEvent, deviceOnline: boolean): ConnectionView {
  if (!deviceOnline || status.status === 'offline') return 'offline';
  return status.status;
}

/** Connected / reconnecting with a countdown / offline, plus a polite announcement when it changes. */
export function ConnectionIndicator({ status, deviceOnline, onRetry }: { status: StatusEvent; deviceOnline: boolean; onRetry: () => void }) {
  const view = connectionView(status, deviceOnline);
  const waiting = view !== 'online' && status.retryAt !== undefined;
  const now = useNow(waiting, 250);
  const seconds = waiting ? Math.max(0, Math.ceil((status.retryAt! - now) / 1000)) : 0;

  const [announce, setAnnounce] = useState('');
  useEffect(() => {
    // Announce transitions, not every tick of the countdown.
    setAnnounce(view === 'online' ? 'Connected.' : view === 'offline' ? 'You are offline.' : view === 'reconnecting' ? 'Connection lost. Reconnecting.' : '');
  }, [view]);

  let label: string;
  let short: string;
  if (view === 'online') label = short = 'Connected';
  else if (view === 'connecting') label = short = 'Connecting…';
  else if (view === 'offline') label = short = 'Offline';
  else if (waiting && seconds > 0) {
    label = `Reconnecting in ${seconds}s`;
    short = `${seconds}s`;
  } else label = short = 'Reconnecting…';

  return (
    <div className={`conn conn-${view}`} data-status={view}>
      {view === 'connecting' || (view === 'reconnecting' && !(waiting && seconds > 0)) ? <Spinner size={12} /> : <span className="conn-dot" aria-hidden="true" />}
      <span className="conn-label">{label}</span>
      {short !== label && (
        <span className="conn-label-short" aria-hidden="true">
          {short}
        </span>
      )}
      {status.status === 'reconnecting' && (
        <button type="button" className="conn-retry" onClick={onRetry} aria-label="Retry now">
          <RefreshIcon size={13} />
          <span className="conn-retry-text">Retry now</span>
        </button>
      )}
      <span className="sr-only" role="status">
        {announce}
      </span>
    </div>
  );
}
