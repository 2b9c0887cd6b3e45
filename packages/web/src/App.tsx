import { useCallback, useEffect, useState } from 'react';
import { ChatterApiError } from '@chatter/client';
import type { SelfUser } from '@chatter/protocol';
import { api, sessionMarker } from './api';
import { AuthScreen } from './components/AuthScreen';
import { ChatScreen } from './components/ChatScreen';
import { Logo, Spinner } from './components/icons';

type Phase =
  | { kind: 'checking' }
  | { kind: 'unreachable' }
  | { kind: 'signedOut'; notice: string | null }
  | { kind: 'chat'; user: SelfUser };

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });

  // The session cookie is HttpOnly: the only way to know whether it is alive is to ask.
  const check = useCallback(() => {
    setPhase({ kind: 'checking' });
    api.me().then(
      (res) => {
        sessionMarker.set();
        setPhase({ kind: 'chat', user: res.user });
      },
      (err: unknown) => {
        if (err instanceof ChatterApiError && err.status === 401) {
          const hadSession = sessionMarker.get();
          sessionMarker.clear();
          const expired = err.code === 'session_expired' || hadSession;
          setPhase({ kind: 'signedOut', notice: expired ? 'Your session has expired. Sign in again.' : null });
        } else {
          setPhase({ kind: 'unreachable' });
        }
      },
    );
  }, []);

  useEffect(check, [check]);

  const onSignedIn = useCallback((user: SelfUser) => {
    sessionMarker.set();
    setPhase({ kind: 'chat', user });
  }, []);

  const onSignedOut = useCallback((notice: string | null) => {
    sessionMarker.clear();
    setPhase({ kind: 'signedOut', notice });
  }, []);

  switch (phase.kind) {
    case 'checking':
      return (
        <div className="boot" aria-busy="true">
          <div className="boot-inner">
            <Logo size={44} />
            <Spinner size={18} />
            <span className="sr-only">Loading Chatter…</span>
          </div>
        </div>
      );
    case 'unreachable':
      return (
        <div className="boot">
          <div className="boot-inner" role="alert">
            <Logo size={44} />
            <p>Can't reach the Chatter server.</p>
            <button type="button" className="btn btn-primary" onClick={check}>
              Try again
            </button>
          </div>
        </div>
      );
    case 'signedOut':
      return <AuthScreen onSignedIn={onSignedIn} notice={phase.notice} />;
    case 'chat':
      return <ChatScreen key={phase.user.id} user={phase.user} onSignedOut={onSignedOut} />;
  }
}
