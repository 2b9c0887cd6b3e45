import { useEffect, useRef, useState, useSyncExternalStore, type FormEvent, type ReactNode } from 'react';
import type { ChatterClient } from '@chatter/client';
import { DEFAULT_NOTIFY, LIMITS, type NotifyLevel, type PublicUser, type Room, type RoomResponse } from '@chatter/protocol';
import { api, describeError } from '../api';
import { roomTitle } from '../rooms/names';
import { stripBidi } from '../text';
import { Avatar } from './Avatar';
import { Field } from './Field';
import { BellIcon, CloseIcon, HashIcon, LockIcon, Spinner } from './icons';
import { desktopNotifications } from '../rooms/notify';
import { Name } from './Name';

/** An Idempotency-Key for one submission: a retried or double-clicked create happens once. */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A modal <dialog>: focus is trapped, Escape and a click on the backdrop close it. */
export function Modal({ open, title, onClose, children, wide }: { open: boolean; title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className={`profile-dialog room-dialog${wide ? ' wide' : ''}`}
      aria-label={title}
      onClose={onClose}
      onClick={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
    >
      {open && (
        <div className="profile">
          <div className="profile-head">
            <h2>{title}</h2>
            <button type="button" className="icon-btn" aria-label="Close" onClick={onClose}>
              <CloseIcon />
            </button>
          </div>
          <div className="profile-body">{children}</div>
        </div>
      )}
    </dialog>
  );
}

/** Runs `load(q)` as the query changes, keeping only the answer to the newest query. */
function useSearch<T>(q: string, load: (q: string) => Promise<T[]>, enabled = true): { results: T[] | null; error: string | null } {
  const [state, setState] = useState<{ results: T[] | null; error: string | null }>({ results: null, error: null });
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    const t = setTimeout(() => {
      loadRef.current(q).then(
        (results) => live && setState({ results, error: null }),
        (err: unknown) => live && setState({ results: null, error: describeError(err).message }),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [q, enabled]);
  return state;
}

export function BrowseRoomsDialog({ open, onClose, onOpenRoom }: { open: boolean; onClose: () => void; onOpenRoom: (id: string, entered?: RoomResponse) => void }) {
  const [q, setQ] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { results, error: loadError } = useSearch(q.trim(), (q) => api.publicRooms(q ? { q } : {}).then((r) => r.rooms), open);
  useEffect(() => {
    if (open) setQ('');
  }, [open]);
  const join = async (room: Room & { joined: boolean }) => {
    if (room.joined) return onOpenRoom(room.id);
    setBusy(room.id);
    setError(null);
    try {
      onOpenRoom(room.id, await api.joinRoom(room.id, newKey()));
    } catch (err) {
      setError(describeError(err).message);
    } finally {
      setBusy(null);
    }
  };
  return (
    <Modal open={open} title="Browse rooms" onClose={onClose}>
      <div className="dialog-stack">
        <Field label="Search public rooms" type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Room name" autoFocus maxLength={LIMITS.roomNameMax} />
        {(error ?? loadError) && (
          <p className="form-error" role="alert">
            {error ?? loadError}
          </p>
        )}
        {results === null && !loadError ? (
          <p className="dialog-muted">
            <Spinner size={14} /> Loading…
          </p>
        ) : results && results.length === 0 ? (
          <p className="dialog-muted">{q.trim() ? `No public room starts with “${q.trim()}”.` : 'No public rooms yet.'}</p>
        ) : (
          <ul className="pick-list" aria-label="Public rooms">
            {results?.map((r) => (
              <li key={r.id} className="pick-item">
                <HashIcon size={18} />
                <span className="pick-text">
                  <strong>{stripBidi(r.name)}</strong>
                  <small>
                    {r.memberCount} member{r.memberCount === 1 ? '' : 's'}
                    {r.topic && ` · ${stripBidi(r.topic)}`}
                  </small>
                </span>
                <button type="button" className={`btn ${r.joined ? 'btn-secondary' : 'btn-primary'} btn-small`} onClick={() => void join(r)} aria-busy={busy === r.id} disabled={busy !== null} aria-label={`${r.joined ? 'Open' : 'Join'} ${stripBidi(r.name)}`}>
                  {r.joined ? 'Open' : 'Join'}
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </Modal>
  );
}

export function CreateRoomDialog({ open, onClose, onOpenRoom }: { open: boolean; onClose: () => void; onOpenRoom: (id: string, entered?: RoomResponse) => void }) {
  const [name, setName] = useState('');
  const [topic, setTopic] = useState('');
  const [visibility, setVisibility] = useState<'public' | 'private'>('public');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<{ message: string | null; fields: Record<string, string> }>({ message: null, fields: {} });
  const key = useRef(newKey());
  useEffect(() => {
    if (!open) return;
    setName('');
    setTopic('');
    setVisibility('public');
    setErrors({ message: null, fields: {} });
    key.current = newKey();
  }, [open]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    if (name.trim() === '') return setErrors({ message: null, fields: { name: 'Give the room a name.' } });
    setBusy(true);
    try {
      const res = await api.createRoom({ name: name.trim(), ...(topic.trim() && { topic: topic.trim() }), visibility }, key.current);
      onOpenRoom(res.room.id, res);
    } catch (err) {
      setErrors(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open={open} title="Create a room" onClose={onClose}>
      <form className="dialog-stack" onSubmit={(e) => void submit(e)} noValidate>
        <Field
          label="Name"
          value={name}
          onChange={(e) => {
            setName(e.target.value);
            if (errors.fields.name) setErrors((x) => ({ ...x, fields: { ...x.fields, name: '' } }));
          }}
          error={errors.fields.name || undefined}
          maxLength={LIMITS.roomNameMax}
          autoFocus
          placeholder="design-team"
        />
        <Field label="Topic" optional value={topic} onChange={(e) => setTopic(e.target.value)} error={errors.fields.topic} placeholder="What it is about" />
        <fieldset className="choice-group">
          <legend className="field-label">Who can join</legend>
          <label className={`choice${visibility === 'public' ? ' checked' : ''}`}>
            <input type="radio" name="visibility" value="public" checked={visibility === 'public'} onChange={() => setVisibility('public')} />
            <HashIcon size={18} />
            <span>
              <strong>Public</strong>
              <small>Anyone can find and join it.</small>
            </span>
          </label>
          <label className={`choice${visibility === 'private' ? ' checked' : ''}`}>
            <input type="radio" name="visibility" value="private" checked={visibility === 'private'} onChange={() => setVisibility('private')} />
            <LockIcon size={18} />
            <span>
              <strong>Private</strong>
              <small>Only people invited can see it.</small>
            </span>
          </label>
        </fieldset>
        {errors.message && (
          <p className="form-error" role="alert">
            {errors.message}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn btn-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" aria-busy={busy}>
            {busy ? 'Creating…' : 'Create room'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** A user search with picked people as chips. */
function UserPicker({ meId, picked, onChange, max, exclude = [] }: { meId: number; picked: PublicUser[]; onChange: (users: PublicUser[]) => void; max: number; exclude?: readonly number[] }) {
  const [q, setQ] = useState('');
  const trimmed = q.trim().replace(/^@/, '');
  const { results, error } = useSearch(trimmed, (q) => (q ? api.searchUsers(q, 20).then((r) => r.users) : Promise.resolve([])));
  const shown = (results ?? []).filter((u) => u.id !== meId && !exclude.includes(u.id));
  const full = picked.length >= max;
  const toggle = (u: PublicUser) => {
    if (picked.some((p) => p.id === u.id)) onChange(picked.filter((p) => p.id !== u.id));
    else if (!full) onChange([...picked, u]);
  };
  return (
    <div className="dialog-stack">
      {picked.length > 0 && (
        <ul className="chips" aria-label="Chosen people">
          {picked.map((u) => (
            <li key={u.id} className="chip">
              <Avatar user={u} size={20} />
              <Name name={u.username} />
              <button type="button" className="chip-x" aria-label={`Remove ${stripBidi(u.username)}`} onClick={() => toggle(u)}>
                <CloseIcon size={14} />
              </button>
            </li>
          ))}
        </ul>
      )}
      <Field label="Search people" type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Username" autoFocus hint={full ? `At most ${max} people.` : undefined} maxLength={LIMITS.usernameMax + 1} />
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {trimmed !== '' && results !== null && shown.length === 0 && <p className="dialog-muted">{results.length > shown.length ? `Everyone whose name starts with “${trimmed}” is already here.` : `Nobody’s name starts with “${trimmed}”.`}</p>}
      {shown.length > 0 && (
        <ul className="pick-list" aria-label="People found">
          {shown.map((u) => {
            const on = picked.some((p) => p.id === u.id);
            return (
              <li key={u.id}>
                <button type="button" className={`pick-item pick-button${on ? ' on' : ''}`} aria-pressed={on} disabled={!on && full} onClick={() => toggle(u)}>
                  <Avatar user={u} size={30} />
                  <span className="pick-text">
                    <strong>
                      <Name name={u.username} />
                    </strong>
                  </span>
                  {on && <span className="pick-check">Added</span>}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

export function NewDmDialog({ open, meId, onClose, onOpenRoom }: { open: boolean; meId: number; onClose: () => void; onOpenRoom: (id: string, entered?: RoomResponse) => void }) {
  const [picked, setPicked] = useState<PublicUser[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!open) return;
    setPicked([]);
    setError(null);
  }, [open]);
  const start = async () => {
    if (picked.length === 0 || busy) return;
    setBusy(true);
    setError(null);
    try {
      // No key needed for a retry: the same people always open the same conversation.
      const res = await api.openDm(picked.map((u) => u.id));
      onOpenRoom(res.room.id, res);
    } catch (err) {
      setError(describeError(err).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open={open} title="New direct message" onClose={onClose}>
      <div className="dialog-stack">
        <UserPicker meId={meId} picked={picked} onChange={setPicked} max={LIMITS.dmMaxUsers - 1} />
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn btn-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="btn btn-primary" disabled={picked.length === 0} aria-busy={busy} onClick={() => void start()}>
            {picked.length > 1 ? `Start group (${picked.length + 1})` : 'Start conversation'}
          </button>
        </div>
      </div>
    </Modal>
  );
}

const NOTIFY_LABELS: Record<NotifyLevel, string> = { all: 'All messages', mentions: 'Only mentions of me', none: 'Nothing (muted)' };

/** Browser notifications, off until turned on here: the permission prompt follows that click, never a page load. */
function DesktopNotifications() {
  const [state, setState] = useState(() => (!desktopNotifications.supported() ? 'unsupported' : desktopNotifications.on() ? 'on' : Notification.permission === 'denied' ? 'denied' : 'off'));
  if (state === 'unsupported') return null;
  return (
    <div className="notify-row">
      <BellIcon size={18} />
      <span className="notify-text">
        {state === 'on' ? 'Desktop notifications are on in this browser, while Chatter is in the background.' : state === 'denied' ? 'Notifications are blocked for this site in the browser’s settings.' : 'Get a notification, as each room’s level says, while Chatter is in the background.'}
      </span>
      {state !== 'denied' && (
        <button
          type="button"
          className="btn btn-secondary btn-small"
          onClick={() => {
            if (state === 'on') {
              desktopNotifications.disable();
              setState('off');
            } else void desktopNotifications.enable().then((p) => setState(p === 'granted' ? 'on' : p === 'denied' ? 'denied' : 'off'));
          }}
        >
          {state === 'on' ? 'Turn off' : 'Turn on'}
        </button>
      )}
    </div>
  );
}

/** The room's header details: name and topic, notifications, members (with invite and remove), archive, leave. */
export function RoomDetailsDialog({ open, client, roomId, meId, onClose }: { open: boolean; client: ChatterClient; roomId: string; meId: number; onClose: () => void }) {
  const store = client.store;
  const view = useSyncExternalStore(
    (fn) => store.subscribeRoom(roomId, fn),
    () => store.room(roomId),
  );
  const info = view?.info ?? null;
  const admin = info?.role === 'owner' || info?.role === 'admin';
  const [name, setName] = useState('');
  const [topic, setTopic] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [inviting, setInviting] = useState<PublicUser[]>([]);
  // The level being saved; after that, the store's (which every device of the user follows).
  const [choosing, setChoosing] = useState<NotifyLevel | null>(null);
  useEffect(() => {
    if (!open || !info) return;
    setChoosing(null);
    setName(info.name);
    setTopic(info.topic);
    setError(null);
    setSaved(null);
    setInviting([]);
    // The SDK loads the member list once asked, and keeps it current (membership, roles, presence).
    client.loadMembers(roomId).catch((err: unknown) => setError(describeError(err).message));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open, roomId]);

  const run = async (what: () => Promise<unknown>, done?: string) => {
    setError(null);
    setSaved(null);
    try {
      await what();
      if (done) setSaved(done);
    } catch (err) {
      setError(describeError(err).message);
    }
  };

  if (!info) return <Modal open={false} title="Room" onClose={onClose}>{null}</Modal>;
  const title = roomTitle(info, meId);
  const members = view?.members ?? [];
  return (
    <Modal open={open} title={info.kind === 'dm' ? title : `#${title}`} onClose={onClose} wide>
      <div className="dialog-stack">
        {info.kind !== 'dm' &&
          (admin ? (
            <form
              className="dialog-stack"
              onSubmit={(e) => {
                e.preventDefault();
                void run(() => api.updateRoom(roomId, { name: name.trim(), topic: topic.trim() }, newKey()), 'Saved.');
              }}
            >
              <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} maxLength={LIMITS.roomNameMax} />
              <Field label="Topic" optional value={topic} onChange={(e) => setTopic(e.target.value)} />
              <div className="dialog-actions start">
                <button type="submit" className="btn btn-secondary" disabled={name.trim() === info.name && topic.trim() === info.topic}>
                  Save name and topic
                </button>
              </div>
            </form>
          ) : (
            info.topic && <p className="room-topic-full">{stripBidi(info.topic)}</p>
          ))}
        <label className="field">
          <span className="field-label">Notify me about</span>
          <select
            className="input"
            value={choosing ?? info.notify}
            onChange={(e) => {
              const level = e.target.value as NotifyLevel;
              setChoosing(level);
              void run(() => client.setNotify(roomId, level), 'Saved.').finally(() => setChoosing(null));
            }}
          >
            {(Object.keys(NOTIFY_LABELS) as NotifyLevel[]).map((k) => (
              <option key={k} value={k}>
                {NOTIFY_LABELS[k]}
                {k === DEFAULT_NOTIFY[info.kind] && ' (default)'}
              </option>
            ))}
          </select>
        </label>
        <DesktopNotifications />
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        {saved && (
          <p className="form-ok" role="status">
            {saved}
          </p>
        )}
        <section aria-labelledby="members-title">
          <h3 id="members-title" className="section-label">
            Members · {info.memberCount}
          </h3>
          {view?.members === null ? (
            <p className="dialog-muted">
              <Spinner size={14} /> Loading members…
            </p>
          ) : (
            <ul className="pick-list" aria-label="Members">
              {members.map((m) => (
                <li key={m.user.id} className="pick-item">
                  <span className="avatar-wrap">
                    <Avatar user={m.user} size={30} />
                    {m.online && <span className="presence-dot" aria-label="online" />}
                  </span>
                  <span className="pick-text">
                    <strong>
                      <Name name={m.user.username} />
                      {m.user.id === meId && <span className="you-tag">you</span>}
                    </strong>
                    {m.role !== 'member' && <small>{m.role}</small>}
                  </span>
                  {admin && info.kind !== 'dm' && m.user.id !== meId && m.role !== 'owner' && (
                    <button type="button" className="btn btn-danger btn-small" aria-label={`Remove ${stripBidi(m.user.username)}`} onClick={() => void run(() => api.removeMember(roomId, m.user.id, newKey()))}>
                      Remove
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
        </section>
        {info.kind !== 'dm' && info.visibility === 'private' && admin && !info.archived && (
          <section className="dialog-stack" aria-label="Invite people">
            <h3 className="section-label">Invite people</h3>
            <UserPicker meId={meId} picked={inviting} onChange={setInviting} max={10} exclude={members.map((m) => m.user.id)} />
            <div className="dialog-actions start">
              <button
                type="button"
                className="btn btn-primary"
                disabled={inviting.length === 0}
                onClick={() =>
                  void run(async () => {
                    for (const u of inviting) await api.addMember(roomId, u.id, newKey());
                    setInviting([]);
                  }, 'Invited.')
                }
              >
                Invite
              </button>
            </div>
          </section>
        )}
        {info.kind !== 'dm' && (
          <div className="dialog-actions start">
            {admin && (
              <button type="button" className="btn btn-secondary" onClick={() => void run(() => api.updateRoom(roomId, { archived: !info.archived }, newKey()), info.archived ? 'Unarchived.' : 'Archived.')}>
                {info.archived ? 'Unarchive room' : 'Archive room'}
              </button>
            )}
            <button type="button" className="btn btn-danger" onClick={() => void run(() => api.leaveRoom(roomId, newKey()).then(onClose))}>
              Leave room
            </button>
          </div>
        )}
      </div>
    </Modal>
  );
}
