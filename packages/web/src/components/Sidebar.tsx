import { useEffect, useRef, type ReactNode } from 'react';
import type { PublicUser, SelfUser } from '@chatter/protocol';
import { stripBidi } from '../text';
import { Avatar } from './Avatar';
import type { ConnectionView } from './ConnectionIndicator';
import { ErrorBoundary } from './ErrorBoundary';
import { Name } from './Name';
import { CloseIcon, Logo, SettingsIcon } from './icons';

interface SidebarProps {
  me: SelfUser;
  /** The room list (sections of rooms and direct messages). */
  rooms: ReactNode;
  /** Who is online, or null while not connected (unknown: the last list may be stale). */
  presence: { users: readonly PublicUser[]; count: number } | null;
  view: ConnectionView;
  /** Phone layout: the sidebar is a sliding menu. */
  drawer: boolean;
  open: boolean;
  onClose: () => void;
  onProfile: () => void;
}

export function Sidebar({ me, rooms, presence, view, drawer, open, onClose, onProfile }: SidebarProps) {
  const closeRef = useRef<HTMLButtonElement>(null);
  const hidden = drawer && !open;

  useEffect(() => {
    if (!drawer || !open) return;
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        onClose();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [drawer, open, onClose]);

  // Me first, then everyone else alphabetically: a stable order that does not jump as people come and go.
  const people = [...(presence?.users ?? [])].sort((a, b) => (a.id === me.id ? -1 : b.id === me.id ? 1 : a.username.localeCompare(b.username)));

  return (
    <>
      <aside
        id="sidebar"
        className={`sidebar${drawer ? ' drawer' : ''}${open ? ' open' : ''}`}
        aria-label="Rooms and people"
        inert={hidden}
        {...(drawer && { role: 'dialog', 'aria-modal': open })}
      >
        <div className="sidebar-head">
          <div className="brand-row">
            <Logo size={30} />
            <span>Chatter</span>
          </div>
          {drawer && (
            <button ref={closeRef} type="button" className="icon-btn" aria-label="Close menu" onClick={onClose}>
              <CloseIcon />
            </button>
          )}
        </div>

        <div className="sidebar-scroll">
        <ErrorBoundary what="the room list" className="sidebar-section">
          {rooms}
        </ErrorBoundary>

        <ErrorBoundary what="the list of people online" className="sidebar-section sidebar-people">
          <section className="sidebar-section sidebar-people" aria-labelledby="online-heading">
            <h2 id="online-heading" className="section-title">
              Online {presence && <span className="count-badge">{presence.count}</span>}
            </h2>
            {presence ? (
              <ul className="user-list" aria-label={`${presence.count} ${presence.count === 1 ? 'person' : 'people'} online`}>
                {people.map((u) => (
                  <li key={u.id} className="user-item">
                    <span className="avatar-wrap">
                      <Avatar user={u} size={32} />
                      <span className="presence-dot" aria-hidden="true" />
                    </span>
                    <Name name={u.username} className="user-name" />
                    {u.id === me.id && <span className="you-tag">you</span>}
                  </li>
                ))}
                {presence.count > people.length && <li className="user-more">and {presence.count - people.length} more</li>}
              </ul>
            ) : (
              <p className="presence-unknown">{view === 'offline' ? 'Offline' : 'Reconnecting'}: who is online is unknown until you are back.</p>
            )}
          </section>
        </ErrorBoundary>
        </div>

        <div className="sidebar-foot">
          <button type="button" className="me-card" onClick={onProfile} aria-label={`Profile and settings for ${stripBidi(me.username)}`}>
            <Avatar user={me} size={38} />
            <span className="me-text">
              <strong>
                <Name name={me.username} />
              </strong>
              <small>Profile &amp; settings</small>
            </span>
            <SettingsIcon size={18} className="me-gear" />
          </button>
        </div>
      </aside>
      {drawer && <div className={`scrim${open ? ' open' : ''}`} onClick={onClose} aria-hidden="true" />}
    </>
  );
}
