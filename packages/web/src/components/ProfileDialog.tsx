import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { LIMITS, type SelfUser, type SessionSummary } from '@chatter/protocol';
import { ChatterApiError } from '@chatter/client';
import { api, describeError, type ShownError } from '../api';
import { useTheme, type ThemePreference } from '../theme';
import { AVATAR_MAX_BYTES, AVATAR_TYPES, uploadAvatar } from '../upload';
import { Avatar } from './Avatar';
import { Field } from './Field';
import { AlertIcon, CameraIcon, CheckIcon, CloseIcon, LogOutIcon, Spinner, TrashIcon } from './icons';

interface ProfileDialogProps {
  open: boolean;
  me: SelfUser;
  onClose: () => void;
  onUserChanged: (user: SelfUser) => void;
  onLogout: () => Promise<void>;
}

const memberSince = new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric' });

/** Profile and settings in a modal <dialog>: focus is trapped and Escape closes it natively. */
export function ProfileDialog({ open, me, onClose, onUserChanged, onLogout }: ProfileDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  // A password change signs out the other sessions: bumping this reloads their list.
  const [sessionsVersion, setSessionsVersion] = useState(0);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);

  return (
    <dialog
      ref={ref}
      className="profile-dialog"
      aria-labelledby="profile-title"
      onClose={onClose}
      onClick={(e) => {
        // A click on the backdrop lands on the dialog element itself.
        if (e.target === e.currentTarget) onClose();
      }}
    >
      {open && (
        <div className="profile">
          <div className="profile-head">
            <h2 id="profile-title">Profile &amp; settings</h2>
            <button type="button" className="icon-btn" aria-label="Close" onClick={onClose}>
              <CloseIcon />
            </button>
          </div>
          <div className="profile-body">
            <AvatarSection me={me} onUserChanged={onUserChanged} />
            <ThemeSection />
            <PasswordSection onChanged={() => setSessionsVersion((v) => v + 1)} />
            <SessionsSection version={sessionsVersion} />
            <section className="profile-section">
              <LogoutButton onLogout={onLogout} />
            </section>
          </div>
        </div>
      )}
    </dialog>
  );
}

function AvatarSection({ me, onUserChanged }: { me: SelfUser; onUserChanged: (user: SelfUser) => void }) {
  const fileRef = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [removing, setRemoving] = useState(false);

  useEffect(() => () => void (preview && URL.revokeObjectURL(preview)), [preview]);

  const choose = (f: File | undefined) => {
    setError(null);
    setDone(null);
    if (!f) return;
    if (f.type && !AVATAR_TYPES.includes(f.type)) {
      setError('Choose a PNG, JPEG, WebP or GIF picture.');
      return;
    }
    if (f.size > AVATAR_MAX_BYTES) {
      setError(`That picture is ${(f.size / 1024 / 1024).toFixed(1)} MB; the limit is 5 MB.`);
      return;
    }
    setFile(f);
    setPreview(URL.createObjectURL(f));
  };

  const reset = () => {
    setFile(null);
    setPreview(null);
    setProgress(null);
    if (fileRef.current) fileRef.current.value = '';
  };

  const upload = async () => {
    if (!file || progress !== null) return;
    setError(null);
    setProgress(0);
    try {
      const user = await uploadAvatar(file, setProgress);
      onUserChanged(user);
      setDone('Picture updated. Everyone sees it now.');
      reset();
    } catch (err) {
      const shown = describeError(err);
      setError(shown.fields.file ?? shown.message ?? 'Upload failed.');
      setProgress(null);
    }
  };

  const remove = async () => {
    setRemoving(true);
    setError(null);
    setDone(null);
    try {
      const res = await api.request<{ user: SelfUser }>('DELETE', '/api/me/avatar');
      onUserChanged(res.user);
      setDone('Picture removed.');
    } catch (err) {
      setError(describeError(err).message);
    } finally {
      setRemoving(false);
    }
  };

  const uploading = progress !== null;
  return (
    <section className="profile-section profile-identity" aria-labelledby="avatar-heading">
      <h3 id="avatar-heading" className="sr-only">
        Profile picture
      </h3>
      <div className="avatar-editor">
        {preview ? <img className="avatar avatar-preview" src={preview} alt="Preview of your new picture" width={88} height={88} /> : <Avatar user={me} size={88} />}
        <button type="button" className="avatar-camera" onClick={() => fileRef.current?.click()} aria-label="Choose a new picture" disabled={uploading}>
          <CameraIcon size={16} />
        </button>
      </div>
      <div className="identity-text">
        <strong className="identity-name">{me.username}</strong>
        <span className="identity-meta">
          {me.email ?? 'No email'} · member since {memberSince.format(new Date(me.createdAt))}
        </span>
        <input
          ref={fileRef}
          type="file"
          accept={AVATAR_TYPES.join(',')}
          className="sr-only"
          tabIndex={-1}
          aria-hidden="true"
          onChange={(e) => choose(e.target.files?.[0])}
          data-testid="avatar-input"
        />
        <div className="identity-actions">
          {file ? (
            <>
              <button type="button" className="btn btn-primary" onClick={upload} aria-busy={uploading} disabled={uploading}>
                {uploading ? <Spinner /> : <CheckIcon size={16} />} {uploading ? 'Uploading…' : 'Save picture'}
              </button>
              <button type="button" className="btn btn-secondary" onClick={reset} disabled={uploading}>
                Cancel
              </button>
            </>
          ) : (
            <>
              <button type="button" className="btn btn-secondary" onClick={() => fileRef.current?.click()}>
                <CameraIcon size={16} /> {me.avatarUrl ? 'Change picture' : 'Upload picture'}
              </button>
              {me.avatarUrl && (
                <button type="button" className="btn btn-danger" onClick={remove} disabled={removing} aria-busy={removing}>
                  <TrashIcon size={16} /> Remove
                </button>
              )}
            </>
          )}
        </div>
        {uploading && (
          <div className="upload-progress">
            <progress max={1} value={progress} aria-label="Upload progress" />
            <span>{Math.round(progress * 100)}%</span>
          </div>
        )}
        {file && !uploading && <p className="field-hint">{file.name} · {(file.size / 1024).toFixed(0)} KB. It will be cropped to a square.</p>}
        {!file && !error && !done && <p className="field-hint">PNG, JPEG, WebP or GIF, up to 5 MB.</p>}
        {error && (
          <p className="field-error" role="alert">
            <AlertIcon size={14} /> {error}
          </p>
        )}
        {done && (
          <p className="field-success" role="status">
            <CheckIcon size={14} /> {done}
          </p>
        )}
      </div>
    </section>
  );
}

function ThemeSection() {
  const { preference, setPreference } = useTheme();
  const options: { value: ThemePreference; label: string }[] = [
    { value: 'system', label: 'System' },
    { value: 'light', label: 'Light' },
    { value: 'dark', label: 'Dark' },
  ];
  return (
    <section className="profile-section">
      <fieldset className="segmented">
        <legend className="section-label">Appearance</legend>
        <div className="segmented-options">
          {options.map((o) => (
            <label key={o.value} className={`segment${preference === o.value ? ' checked' : ''}`}>
              <input type="radio" name="theme" value={o.value} checked={preference === o.value} onChange={() => setPreference(o.value)} />
              {o.label}
            </label>
          ))}
        </div>
      </fieldset>
    </section>
  );
}

function PasswordSection({ onChanged }: { onChanged: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError>({ message: null, fields: {} });
  const [done, setDone] = useState(false);

  // Editing after a result starts over: an old success must not sit next to new errors.
  const edit = (set: (value: string) => void) => (value: string) => {
    set(value);
    setDone(false);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setDone(false);
    const fields: Record<string, string> = {};
    if (!current) fields.currentPassword = 'Enter your current password.';
    if (!next) fields.newPassword = 'Choose a new password.';
    else if (current && next.normalize('NFC') === current.normalize('NFC')) fields.newPassword = 'Choose a password different from your current one.';
    if (next && confirm !== next) fields.confirmPassword = confirm ? 'The two new passwords do not match.' : 'Enter the new password again.';
    if (Object.keys(fields).length) return setError({ message: null, fields });
    setBusy(true);
    setError({ message: null, fields: {} });
    try {
      await api.changePassword({ currentPassword: current, newPassword: next });
      setDone(true);
      setCurrent('');
      setNext('');
      setConfirm('');
      onChanged();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const hasError = Boolean(error.message) || Object.keys(error.fields).length > 0;
  return (
    <section className="profile-section" aria-labelledby="password-heading">
      <h3 id="password-heading" className="section-label">
        Change password
      </h3>
      <form className="password-form" onSubmit={submit} noValidate>
        {error.message && (
          <div className="alert" role="alert">
            <AlertIcon size={18} />
            <span>{error.message}</span>
          </div>
        )}
        <Field label="Current password" password autoComplete="current-password" value={current} onChange={(e) => edit(setCurrent)(e.target.value)} error={error.fields.currentPassword} />
        <Field
          label="New password"
          password
          autoComplete="new-password"
          maxLength={LIMITS.passwordMax}
          value={next}
          onChange={(e) => edit(setNext)(e.target.value)}
          error={error.fields.newPassword}
          hint={`At least ${LIMITS.passwordMin} characters. Your other devices will be signed out.`}
        />
        <Field
          label="Confirm password"
          password
          autoComplete="new-password"
          maxLength={LIMITS.passwordMax}
          value={confirm}
          onChange={(e) => edit(setConfirm)(e.target.value)}
          error={error.fields.confirmPassword}
        />
        <div className="form-row">
          <button type="submit" className="btn btn-primary" aria-busy={busy} aria-disabled={busy}>
            {busy && <Spinner />} {busy ? 'Changing…' : 'Change password'}
          </button>
          {done && !hasError && (
            <p className="field-success" role="status">
              <CheckIcon size={14} /> Password changed. Other sessions were signed out.
            </p>
          )}
        </div>
      </form>
    </section>
  );
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const calendarDay = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

/** "just now", "5 minutes ago", "yesterday", "12 Mar 2026": last use is recorded hourly, so no seconds. */
function lastSeen(iso: string, now = Date.now()): string {
  const minutes = Math.round((now - Date.parse(iso)) / 60_000);
  if (minutes < 2) return 'just now';
  if (minutes < 60) return relative.format(-minutes, 'minute');
  const hours = Math.round(minutes / 60);
  if (hours < 24) return relative.format(-hours, 'hour');
  const days = Math.round(hours / 24);
  if (days < 7) return relative.format(-days, 'day');
  return calendarDay.format(new Date(iso));
}

/** "Your sessions": every device signed in, with a way to sign the others out. */
function SessionsSection({ version }: { version: number }) {
  const [sessions, setSessions] = useState<SessionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<number | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      setSessions((await api.sessions()).sessions);
    } catch (err) {
      setError(describeError(err).message ?? 'Could not load your sessions.');
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load, version]);

  const revoke = async (session: SessionSummary) => {
    setRevoking(session.id);
    setError(null);
    try {
      await api.revokeSession(session.id);
    } catch (err) {
      // Already gone (signed out elsewhere, or expired): the list catches up below either way.
      if (!(err instanceof ChatterApiError && err.code === 'not_found')) setError(describeError(err).message);
    } finally {
      setRevoking(null);
    }
    setSessions((list) => list?.filter((s) => s.id !== session.id) ?? null);
  };

  return (
    <section className="profile-section" aria-labelledby="sessions-heading">
      <h3 id="sessions-heading" className="section-label">
        Your sessions
      </h3>
      {sessions === null && !error && (
        <p className="field-hint sessions-loading">
          <Spinner /> Loading your sessions…
        </p>
      )}
      {sessions && (
        <ul className="session-list">
          {sessions.map((s) => (
            <li key={s.id} className={`session-row${s.current ? ' current' : ''}`} aria-label={s.device}>
              <div className="session-text">
                <span className="session-device">{s.device}</span>
                <span className="session-meta">
                  {s.current ? (
                    <span className="session-badge">This device</span>
                  ) : (
                    <>
                      Last seen <time dateTime={s.lastSeenAt}>{lastSeen(s.lastSeenAt)}</time>
                    </>
                  )}
                </span>
              </div>
              {!s.current && (
                <button
                  type="button"
                  className="btn btn-secondary btn-small"
                  onClick={() => void revoke(s)}
                  disabled={revoking !== null}
                  aria-busy={revoking === s.id}
                  aria-label={`Revoke ${s.device}, last seen ${lastSeen(s.lastSeenAt)}`}
                >
                  {revoking === s.id ? <Spinner /> : <LogOutIcon size={14} />} Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {sessions && sessions.length <= 1 && <p className="field-hint">You are signed in on this device only.</p>}
      {error && (
        <div className="session-error">
          <p className="field-error" role="alert">
            <AlertIcon size={14} /> {error}
          </p>
          {sessions === null && (
            <button type="button" className="btn btn-secondary btn-small" onClick={() => void load()}>
              Try again
            </button>
          )}
        </div>
      )}
    </section>
  );
}

function LogoutButton({ onLogout }: { onLogout: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <div className="logout-row">
      <button
        type="button"
        className="btn btn-danger"
        aria-busy={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            await onLogout();
          } catch (err) {
            setError(describeError(err).message);
            setBusy(false);
          }
        }}
      >
        {busy ? <Spinner /> : <LogOutIcon size={16} />} Log out
      </button>
      {error && (
        <p className="field-error" role="alert">
          <AlertIcon size={14} /> {error}
        </p>
      )}
    </div>
  );
}
