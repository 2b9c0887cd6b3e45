import { memo, useCallback, useRef, useSyncExternalStore } from 'react';
import type { ChatterStore } from '@chatter/client';
import { LIMITS, type MyRoom } from '@chatter/protocol';
import { badgeCount, roomTitle } from '../rooms/names';
import { Avatar } from './Avatar';
import { ArchiveIcon, HashIcon, LockIcon, PlusIcon, SearchIcon } from './icons';

interface RoomListProps {
  store: ChatterStore;
  meId: number;
  active: string;
  onOpen: (id: string) => void;
  onBrowse: () => void;
  onCreate: () => void;
  onNewDm: () => void;
}

/**
 * The user's rooms in two sections, most recently active first. The list itself follows only the
 * room list (order, rooms added or removed); each row follows its own room, so a message or a
 * reaction in one room re-renders that room's row and no other.
 */
export function RoomList({ store, meId, active, onOpen, onBrowse, onCreate, onNewDm }: RoomListProps) {
  const rooms = useSyncExternalStore(
    useCallback((fn: () => void) => store.subscribeRooms(fn), [store]),
    () => store.rooms(),
  );
  const channels = rooms.filter((r) => r.kind !== 'dm');
  const dms = rooms.filter((r) => r.kind === 'dm');
  return (
    <>
      <nav className="sidebar-section room-section" aria-labelledby="rooms-heading">
        <div className="section-head">
          <h2 id="rooms-heading" className="section-title">
            Rooms
          </h2>
          <button type="button" className="icon-btn small" aria-label="Browse rooms" title="Browse rooms" onClick={onBrowse}>
            <SearchIcon size={16} />
          </button>
          <button type="button" className="icon-btn small" aria-label="Create a room" title="Create a room" onClick={onCreate}>
            <PlusIcon size={16} />
          </button>
        </div>
        <ul className="room-list" aria-label="Rooms">
          {channels.map((r) => (
            <RoomRow key={r.id} store={store} id={r.id} meId={meId} active={r.id === active} onOpen={onOpen} />
          ))}
        </ul>
      </nav>
      <nav className="sidebar-section room-section" aria-labelledby="dms-heading">
        <div className="section-head">
          <h2 id="dms-heading" className="section-title">
            Direct messages
          </h2>
          <button type="button" className="icon-btn small" aria-label="New direct message" title="New direct message" onClick={onNewDm}>
            <PlusIcon size={16} />
          </button>
        </div>
        {dms.length === 0 ? (
          <p className="room-empty">
            <button type="button" className="link-button" onClick={onNewDm}>
              Start a conversation
            </button>
          </p>
        ) : (
          <ul className="room-list" aria-label="Direct messages">
            {dms.map((r) => (
              <RoomRow key={r.id} store={store} id={r.id} meId={meId} active={r.id === active} onOpen={onOpen} />
            ))}
          </ul>
        )}
      </nav>
    </>
  );
}

interface RoomRowProps {
  store: ChatterStore;
  id: string;
  meId: number;
  active: boolean;
  onOpen: (id: string) => void;
}

const RoomRow = memo(function RoomRow({ store, id, meId, active, onOpen }: RoomRowProps) {
  // Only the room's info (name, counts): typing or presence in the room do not re-render its row.
  const info = useSyncExternalStore(
    useCallback((fn: () => void) => store.subscribeRoom(id, fn), [store, id]),
    () => store.room(id)?.info ?? null,
  );
  // How often this row rendered, for the test that proves rooms do not re-render each other.
  const renders = useRef(0);
  renders.current++;
  if (!info) return null;
  const title = roomTitle(info, meId);
  // A muted room (level none) does not call for attention with every message: its name stays plain
  // and its count shows muted (Slack's way); a mention in it still does.
  const muted = info.notify === 'none';
  const unread = (info.unread > 0 && !muted) || info.mentions > 0;
  const label = [title, muted && 'muted', info.mentions > 0 && `${info.mentions} mention${info.mentions === 1 ? '' : 's'}`, info.unread > 0 && `${info.unread} unread`].filter(Boolean).join(', ');
  return (
    <li data-renders={renders.current} data-room={id}>
      <a
        className={`room-link${active ? ' active' : ''}${unread ? ' unread' : ''}${muted ? ' muted' : ''}`}
        href={`#${encodeURIComponent(id)}`}
        aria-current={active ? 'page' : undefined}
        aria-label={label}
        onClick={(e) => {
          e.preventDefault();
          onOpen(id);
        }}
      >
        <RoomIcon room={info} meId={meId} />
        <span className="room-name">{title}</span>
        {info.mentions > 0 && <span className="mention-badge">@{badgeCount(info.mentions, LIMITS.unreadCountMax)}</span>}
        {info.unread > 0 && info.mentions === 0 && <span className={`unread-badge${muted ? ' muted' : ''}`}>{badgeCount(info.unread, LIMITS.unreadCountMax)}</span>}
      </a>
    </li>
  );
});

export function RoomIcon({ room, meId, size = 17 }: { room: MyRoom; meId: number; size?: number }) {
  if (room.kind === 'dm') {
    const other = room.members.find((u) => u.id !== meId) ?? room.members[0];
    return other ? <Avatar user={other} size={size + 5} /> : <HashIcon size={size} />;
  }
  if (room.archived) return <ArchiveIcon size={size} />;
  return room.visibility === 'private' ? <LockIcon size={size} /> : <HashIcon size={size} />;
}
