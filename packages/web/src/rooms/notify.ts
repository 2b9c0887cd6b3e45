import type { Message, MyRoom } from '@chatter/protocol';
import { actionText } from '@chatter/client';
import { stripBidi } from '../text';
import { roomTitle } from './names';

const KEY = 'chatter.notifications';

/** Browser notifications: supported here, and what the user chose (off until they turn them on). */
export const desktopNotifications = {
  supported(): boolean {
    return typeof Notification !== 'undefined';
  },
  wanted(): boolean {
    try {
      return localStorage.getItem(KEY) === 'on';
    } catch {
      return false;
    }
  },
  on(): boolean {
    return this.supported() && this.wanted() && Notification.permission === 'granted';
  },
  /** Turning them on asks the browser's permission the first time (and only then: a click is needed for the prompt). */
  async enable(): Promise<NotificationPermission> {
    const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
    try {
      if (permission === 'granted') localStorage.setItem(KEY, 'on');
    } catch {
      /* storage disabled: on for this page only */
    }
    return permission;
  },
  disable(): void {
    try {
      localStorage.removeItem(KEY);
    } catch {
      /* ignore */
    }
  },
};

/**
 * Whether a message deserves a notification: someone else's, new (not a replay after a reconnect),
 * while the tab is hidden, and by the room's level (the store's, which every device of the user
 * follows): `none` (muted) never, `mentions` when it mentions me, `all` every message, in a
 * channel as in a DM. A DM's default level is `all`, a channel's `mentions` (`DEFAULT_NOTIFY`).
 */
export function shouldNotify(m: Message, room: MyRoom, meId: number, hidden: boolean, now = Date.now()): boolean {
  if (!hidden || m.author.id === meId || m.deleted || room.notify === 'none') return false;
  if (now - Date.parse(m.createdAt) > 60_000) return false;
  return room.notify === 'all' || m.mentions.includes(meId);
}

export function showNotification(m: Message, room: MyRoom, meId: number, onClick: () => void): void {
  const author = stripBidi(m.author.username);
  const action = actionText(m.text);
  const body = stripBidi(action !== undefined ? `* ${author} ${action}` : m.text).slice(0, 200);
  const title = room.kind === 'dm' ? author : `${author} in #${roomTitle(room, meId)}`;
  try {
    const n = new Notification(title, { body, tag: `chatter-${room.id}`, ...(m.author.avatarUrl && { icon: m.author.avatarUrl }) });
    n.onclick = () => {
      window.focus();
      onClick();
      n.close();
    };
  } catch {
    /* some browsers only allow notifications from a service worker: nothing to show then */
  }
}
