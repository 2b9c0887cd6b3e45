import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { SelfUser } from '@chatter/protocol';
import { api } from '../api';
import { ChatModel, localOutbox } from '../chat/model';
import { useMediaQuery } from '../hooks';
import { clearDrafts, Composer, draftKey } from './Composer';
import { connectionView } from './ConnectionIndicator';
import { ErrorBoundary } from './ErrorBoundary';
import { Header } from './Header';
import { MessageList } from './MessageList';
import { ProfileDialog } from './ProfileDialog';
import { Sidebar } from './Sidebar';

interface ChatScreenProps {
  user: SelfUser;
  onSignedOut: (notice: string | null) => void;
}

export function ChatScreen({ user, onSignedOut }: ChatScreenProps) {
  const [model] = useState(
    () =>
      new ChatModel(user, {
        onSessionEnded: (code) =>
          onSignedOut(code === 4002 ? 'Your session ended (signed out elsewhere or your password changed). Sign in again.' : 'Your session has expired. Sign in again.'),
      }),
  );
  useEffect(() => {
    model.start();
    return () => model.stop();
  }, [model]);
  const state = useSyncExternalStore(model.subscribe, model.getSnapshot);

  const drawer = useMediaQuery('(max-width: 767px)');
  const [menuOpen, setMenuOpen] = useState(false);
  const [profileOpen, setProfileOpen] = useState(false);
  const menuButton = useRef<HTMLButtonElement>(null);
  const composerInput = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (!drawer) setMenuOpen(false);
  }, [drawer]);

  const closeMenu = useCallback(() => setMenuOpen(false), []);

  // Back to the menu button once the menu is closed (the chat is inert until then, so not sooner),
  // unless focus has already gone somewhere on purpose (the profile dialog).
  const wasOpen = useRef(false);
  useEffect(() => {
    if (wasOpen.current && !menuOpen && !profileOpen) menuButton.current?.focus();
    wasOpen.current = menuOpen;
  }, [menuOpen, profileOpen]);

  const logout = useCallback(async () => {
    await api.logout();
    model.stop();
    localOutbox(state.me.id).clear();
    clearDrafts(state.me.id);
    onSignedOut(null);
  }, [model, onSignedOut, state.me.id]);

  const view = connectionView(state.status, state.deviceOnline);
  // Who is online is only known while connected: the last list would go stale without a word.
  const presence = view === 'online' ? { users: state.online, count: state.onlineCount } : null;
  const waiting = state.outgoing.filter((o) => o.state !== 'failed').length;

  return (
    <div className="app-shell">
      <a className="skip-link" href="#composer-input">
        Skip to message box
      </a>
      <Sidebar
        me={state.me}
        room={state.room}
        presence={presence}
        view={view}
        drawer={drawer}
        open={menuOpen}
        onClose={closeMenu}
        onProfile={() => {
          setMenuOpen(false);
          setProfileOpen(true);
        }}
      />
      <main className="chat-main" inert={drawer && menuOpen}>
        <Header
          room={state.room}
          onlineCount={presence?.count ?? null}
          status={state.status}
          deviceOnline={state.deviceOnline}
          menuOpen={menuOpen}
          onMenu={() => setMenuOpen(true)}
          onRetry={() => model.client.retryNow()}
          menuButtonRef={menuButton}
        />
        <ErrorBoundary what="the message list" className="messages">
          <MessageList state={state} model={model} />
        </ErrorBoundary>
        <ErrorBoundary what="the message box" className="composer">
          <Composer room={state.room} offline={view !== 'online'} deviceOffline={!state.deviceOnline} waiting={waiting} onSend={(t) => model.send(t)} onTyping={() => model.typing()} inputRef={composerInput} draftKey={draftKey(state.me.id, state.room)} />
        </ErrorBoundary>
      </main>
      <ErrorBoundary what="Profile & settings" className="crash-floating">
        <ProfileDialog
          open={profileOpen}
          me={state.me}
          onClose={() => {
            setProfileOpen(false);
            // The dialog gives focus back to what opened it; on phones that was inside the (now closed) menu.
            requestAnimationFrame(() => {
              if (!document.activeElement || document.activeElement === document.body) composerInput.current?.focus();
            });
          }}
          onUserChanged={(u) => model.applyProfile(u)}
          onLogout={logout}
        />
      </ErrorBoundary>
    </div>
  );
}
