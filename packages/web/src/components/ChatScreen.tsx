import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { RoomResponse, SelfUser } from '@chatter/protocol';
import { api } from '../api';
import { ChatModel, localOutbox } from '../chat/model';
import { desktopNotifications, shouldNotify, showNotification } from '../rooms/notify';
import { RoomList } from './RoomList';
import { BrowseRoomsDialog, CreateRoomDialog, NewDmDialog, RoomDetailsDialog } from './RoomDialogs';
import { useMediaQuery } from '../hooks';
import { clearDrafts, Composer, draftKey } from './Composer';
import { connectionView } from './ConnectionIndicator';
import { ErrorBoundary } from './ErrorBoundary';
import { Header } from './Header';
import { MessageList } from './MessageList';
import { ProfileDialog } from './ProfileDialog';
import { Sidebar } from './Sidebar';
import { roomTitle } from '../rooms/names';

interface ChatScreenProps {
  user: SelfUser;
  onSignedOut: (notice: string | null) => void;
}

type RoomDialog = 'browse' | 'create' | 'dm' | 'details' | null;

export function ChatScreen({ user, onSignedOut }: ChatScreenProps) {
  const [model] = useState(() => {
    const m: ChatModel = new ChatModel(user, {
      onSessionEnded: (code) =>
        onSignedOut(code === 4002 ? 'Your session ended (signed out elsewhere or your password changed). Sign in again.' : 'Your session has expired. Sign in again.'),
      onMessage: (msg) => {
        const room = m.client.store.room(msg.room)?.info;
        if (!room || !desktopNotifications.on()) return;
        if (shouldNotify(msg, room, user.id, document.visibilityState === 'hidden')) showNotification(msg, room, user.id, () => openRoom(msg.room));
      },
    });
    return m;
  });
  useEffect(() => {
    model.start();
    return () => model.stop();
  }, [model]);
  const state = useSyncExternalStore(model.subscribe, model.getSnapshot);
  const store = model.client.store;

  // The open room lives in the address: links, Back and Forward, and a reload all land in it. The
  // model follows the address, and keeps it true when it moves on by itself.
  const openRoom = useCallback((id: string) => {
    const hash = `#${encodeURIComponent(id)}`;
    if (location.hash !== hash) location.hash = hash;
    else model.open(id);
  }, [model]);

  // The unread total in the tab's title, so it shows from other tabs and the taskbar.
  const unreadTotal = useSyncExternalStore(
    useCallback((fn: () => void) => store.subscribeRooms(fn), [store]),
    () => store.unreadTotal(),
  );
  useEffect(() => {
    document.title = unreadTotal > 0 ? `(${unreadTotal}) Chatter` : 'Chatter';
  }, [unreadTotal]);
  // What calls from the other rooms, for the phone's menu button (the room list is behind it there):
  // rooms with unread messages (not muted ones) and mentions, as the room list counts them.
  const shownRoom = state.room;
  const elsewhereKey = useSyncExternalStore(
    useCallback((fn: () => void) => store.subscribeRooms(fn), [store]),
    () => {
      let rooms = 0;
      let mentions = 0;
      for (const r of store.rooms()) {
        if (r.id === shownRoom) continue;
        if ((r.unread > 0 && r.notify !== 'none') || r.mentions > 0) rooms++;
        mentions += r.mentions;
      }
      return `${rooms}:${mentions}`;
    },
  );
  const [elsewhereRooms, elsewhereMentions] = elsewhereKey.split(':').map(Number) as [number, number];

  // Members of the room first (not me), then whoever the user search finds.
  const roomMembers = state.members;
  const mentions = useMemo(
    () => ({
      members: (roomMembers ?? []).map((m) => m.user).filter((u) => u.id !== state.me.id),
      search: (prefix: string) => api.searchUsers(prefix, 8).then((r) => r.users.filter((u) => u.id !== state.me.id)),
    }),
    [roomMembers, state.me.id],
  );

  const [dialog, setDialog] = useState<RoomDialog>(null);
  const closeDialog = useCallback(() => setDialog(null), []);
  const openFromDialog = useCallback(
    (id: string, entered?: RoomResponse) => {
      // Held from the answer, so the room opens by its name even before the socket's room_joined.
      if (entered) model.client.joined(entered);
      setDialog(null);
      setMenuOpen(false);
      openRoom(id);
    },
    [model, openRoom],
  );

  const drawer = useMediaQuery('(max-width: 767px)');
  const [menuOpen, setMenuOpen] = useState(false);
  const [profileOpen, setProfileOpen] = useState(false);
  const menuButton = useRef<HTMLButtonElement>(null);
  const composerInput = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (!drawer) setMenuOpen(false);
  }, [drawer]);

  const closeMenu = useCallback(() => setMenuOpen(false), []);
  const pickRoom = useCallback(
    (id: string) => {
      setMenuOpen(false);
      openRoom(id);
    },
    [openRoom],
  );
  const openDialog = useCallback((d: RoomDialog) => () => {
    setMenuOpen(false);
    setDialog(d);
  }, []);

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
      <a
        className="skip-link"
        href="#composer-input"
        onClick={(e) => {
          // The address names the open room: a fragment jump would read as another room.
          e.preventDefault();
          composerInput.current?.focus();
        }}
      >
        Skip to message box
      </a>
      <Sidebar
        me={state.me}
        rooms={<RoomList store={store} meId={state.me.id} active={state.room} onOpen={pickRoom} onBrowse={openDialog('browse')} onCreate={openDialog('create')} onNewDm={openDialog('dm')} />}
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
          info={state.info}
          meId={state.me.id}
          onDetails={() => setDialog('details')}
          onlineCount={presence?.count ?? null}
          status={state.status}
          deviceOnline={state.deviceOnline}
          menuOpen={menuOpen}
          elsewhere={{ rooms: elsewhereRooms, mentions: elsewhereMentions }}
          onMenu={() => setMenuOpen(true)}
          onRetry={() => model.client.retryNow()}
          menuButtonRef={menuButton}
        />
        <ErrorBoundary what="the message list" className="messages">
          <MessageList key={`${state.room}:${state.window}`} state={state} model={model} />
        </ErrorBoundary>
        <ErrorBoundary what="the message box" className="composer">
          {state.info?.archived ? (
            <p className="archived-banner" role="status">
              This room is archived: it is read-only.
            </p>
          ) : (
          <Composer room={state.info ? (state.info.kind === 'dm' ? roomTitle(state.info, state.me.id) : `#${roomTitle(state.info, state.me.id)}`) : '#' + state.room} offline={view !== 'online'} deviceOffline={!state.deviceOnline} waiting={waiting} onSend={(t) => model.send(t)} onTyping={() => model.typing()} inputRef={composerInput} draftKey={draftKey(state.me.id, state.room)} mentions={mentions} maxChars={model.client.messageMaxChars} />
          )}
        </ErrorBoundary>
      </main>
      <ErrorBoundary what="the room dialogs" className="crash-floating">
        <BrowseRoomsDialog open={dialog === 'browse'} onClose={closeDialog} onOpenRoom={openFromDialog} />
        <CreateRoomDialog open={dialog === 'create'} onClose={closeDialog} onOpenRoom={openFromDialog} />
        <NewDmDialog open={dialog === 'dm'} meId={state.me.id} onClose={closeDialog} onOpenRoom={openFromDialog} />
        <RoomDetailsDialog open={dialog === 'details'} client={model.client} roomId={state.room} meId={state.me.id} onClose={closeDialog} />
      </ErrorBoundary>
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
