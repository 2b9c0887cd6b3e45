import type { StatusEvent } from '@chatter/client';
import type { MyRoom } from '@chatter/protocol';
import { roomTitle } from '../rooms/names';
import { stripBidi } from '../text';
import { RoomIcon } from './RoomList';
import { useTheme } from '../theme';
import { ConnectionIndicator } from './ConnectionIndicator';
import { HashIcon, MenuIcon, MoonIcon, SunIcon, UsersIcon } from './icons';

interface HeaderProps {
  room: string;
  info: MyRoom | null;
  meId: number;
  onDetails: () => void;
  /** null while not connected: unknown, not zero. */
  onlineCount: number | null;
  status: StatusEvent;
  deviceOnline: boolean;
  menuOpen: boolean;
  /** Other rooms calling for attention (unread, not muted; mentions): a badge on the phone's menu button. */
  elsewhere: { rooms: number; mentions: number };
  onMenu: () => void;
  onRetry: () => void;
  menuButtonRef: React.Ref<HTMLButtonElement>;
}

export function Header({ room, info, meId, onDetails, onlineCount, status, deviceOnline, menuOpen, elsewhere, onMenu, onRetry, menuButtonRef }: HeaderProps) {
  const { theme, toggle } = useTheme();
  const calls = [
    elsewhere.rooms > 0 && `${elsewhere.rooms} other room${elsewhere.rooms === 1 ? '' : 's'} with unread messages`,
    elsewhere.mentions > 0 && `${elsewhere.mentions} mention${elsewhere.mentions === 1 ? '' : 's'}`,
  ].filter(Boolean);
  return (
    <header className="chat-header">
      <button
        ref={menuButtonRef}
        type="button"
        className="icon-btn menu-btn"
        aria-label={calls.length ? `Open menu: ${calls.join(', ')}` : 'Open menu'}
        aria-expanded={menuOpen}
        aria-controls="sidebar"
        onClick={onMenu}
      >
        <MenuIcon />
        {elsewhere.mentions > 0 ? (
          <span className="menu-badge mention" aria-hidden="true">
            @{elsewhere.mentions > 99 ? '99+' : elsewhere.mentions}
          </span>
        ) : (
          elsewhere.rooms > 0 && <span className="menu-badge" aria-hidden="true" />
        )}
      </button>
      <div className="room-title">
        {info ? <RoomIcon room={info} meId={meId} size={20} /> : <HashIcon size={20} className="room-hash" />}
        <button type="button" className="room-title-btn" onClick={onDetails} disabled={!info} aria-label={info ? `Room details: ${info.kind === 'dm' ? '' : '#'}${roomTitle(info, meId)}` : 'Room details'}>
          <h1>{info ? roomTitle(info, meId) : room}</h1>
          {info?.topic && <span className="room-topic">{stripBidi(info.topic)}</span>}
        </button>
        {onlineCount !== null && (
          <span className="online-pill" title={`${onlineCount} online`}>
            <span className="online-dot" aria-hidden="true" />
            <span>
              {onlineCount} <span className="online-word">online</span>
            </span>
          </span>
        )}
      </div>
      <div className="header-actions">
        {info && (
          <button type="button" className="icon-btn" onClick={onDetails} aria-label="Members and settings">
            <UsersIcon />
          </button>
        )}
        <ConnectionIndicator status={status} deviceOnline={deviceOnline} onRetry={onRetry} />
        <button type="button" className="icon-btn" onClick={toggle} aria-label={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}>
          {theme === 'dark' ? <SunIcon /> : <MoonIcon />}
        </button>
      </div>
    </header>
  );
}
