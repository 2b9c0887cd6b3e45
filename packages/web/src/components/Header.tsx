import type { StatusEvent } from '@chatter/client';
import { useTheme } from '../theme';
import { ConnectionIndicator } from './ConnectionIndicator';
import { HashIcon, MenuIcon, MoonIcon, SunIcon } from './icons';

interface HeaderProps {
  room: string;
  /** null while not connected: unknown, not zero. */
  onlineCount: number | null;
  status: StatusEvent;
  deviceOnline: boolean;
  menuOpen: boolean;
  onMenu: () => void;
  onRetry: () => void;
  menuButtonRef: React.Ref<HTMLButtonElement>;
}

export function Header({ room, onlineCount, status, deviceOnline, menuOpen, onMenu, onRetry, menuButtonRef }: HeaderProps) {
  const { theme, toggle } = useTheme();
  return (
    <header className="chat-header">
      <button
        ref={menuButtonRef}
        type="button"
        className="icon-btn menu-btn"
        aria-label="Open menu"
        aria-expanded={menuOpen}
        aria-controls="sidebar"
        onClick={onMenu}
      >
        <MenuIcon />
      </button>
      <div className="room-title">
        <HashIcon size={20} className="room-hash" />
        <h1>{room}</h1>
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
        <ConnectionIndicator status={status} deviceOnline={deviceOnline} onRetry={onRetry} />
        <button type="button" className="icon-btn" onClick={toggle} aria-label={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}>
          {theme === 'dark' ? <SunIcon /> : <MoonIcon />}
        </button>
      </div>
    </header>
  );
}
