import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { LIMITS, type SelfUser } from '@chatter/protocol';
import { api, describeError, type ShownError } from '../api';
import { useTheme } from '../theme';
import { Field } from './Field';
import { AlertIcon, Logo, MoonIcon, Spinner, SunIcon } from './icons';

type Mode = 'signin' | 'register';

interface AuthScreenProps {
  onSignedIn: (user: SelfUser) => void;
  /** Why the person is here, e.g. their session expired. */
  notice?: string | null;
}

const NO_ERROR: ShownError = { message: null, fields: {} };

export function AuthScreen({ onSignedIn, notice }: AuthScreenProps) {
  const [mode, setMode] = useState<Mode>('signin');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError>(NO_ERROR);
  const firstField = useRef<HTMLInputElement>(null);
  const tabs = useRef<Record<Mode, HTMLButtonElement | null>>({ signin: null, register: null });
  const { theme, toggle } = useTheme();

  useEffect(() => {
    firstField.current?.focus();
  }, []);

  const switchTo = (next: Mode, focusTab = false) => {
    setMode(next);
    setError(NO_ERROR);
    if (focusTab) tabs.current[next]?.focus();
  };

  // Arrow keys move between tabs, as in every tablist.
  const onTabKey = (e: KeyboardEvent) => {
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft' || e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      switchTo(mode === 'signin' ? 'register' : 'signin', true);
    }
  };

  const localCheck = (): ShownError | null => {
    const fields: Record<string, string> = {};
    if (!username.trim()) fields.username = mode === 'signin' ? 'Enter your username or email.' : 'Choose a username.';
    if (!password) fields.password = mode === 'signin' ? 'Enter your password.' : 'Choose a password.';
    return Object.keys(fields).length ? { message: null, fields } : null;
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    const problem = localCheck();
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(NO_ERROR);
    try {
      const login = username.trim();
      const res =
        mode === 'signin'
          ? await api.login({ ...(login.includes('@') ? { email: login } : { username: login }), password, session: 'cookie' })
          : await api.register({ username: login, password, ...(email.trim() && { email: email.trim() }), session: 'cookie' });
      onSignedIn(res.user);
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };

  const f = error.fields;
  const isSignIn = mode === 'signin';
  return (
    <div className="auth">
      <section className="auth-brand" aria-hidden="true">
        <div className="brand-row">
          <Logo size={36} /> Chatter
        </div>
        <div>
          <h1>Conversations that never miss a beat.</h1>
          <p className="lead">Real-time chat you host yourself. Messages arrive instantly, survive reconnects and are never sent twice.</p>
          <div className="preview">
            <div className="preview-system">maya joined</div>
            <div className="preview-msg">
              <span className="preview-avatar">MA</span>
              <span className="preview-bubble">Deploy is green! Anyone up for a demo?</span>
            </div>
            <div className="preview-msg mine">
              <span className="preview-bubble">On my way, give me 2 minutes</span>
            </div>
            <div className="preview-msg">
              <span className="preview-avatar">JO</span>
              <span className="preview-bubble">Same, saving my seat</span>
            </div>
          </div>
        </div>
        <ul className="features">
          <li>Live presence</li>
          <li>Offline outbox</li>
          <li>Exactly-once delivery</li>
          <li>Light &amp; dark</li>
        </ul>
      </section>

      <main className="auth-main">
        <button type="button" className="icon-btn auth-theme" onClick={toggle} aria-label={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}>
          {theme === 'dark' ? <SunIcon /> : <MoonIcon />}
        </button>
        <div className="auth-card">
          <div className="auth-card-head">
            <div className="mobile-logo brand-row">
              <Logo size={36} /> Chatter
            </div>
            <h2>{isSignIn ? 'Welcome back' : 'Create your account'}</h2>
            <p>{isSignIn ? 'Sign in to pick up where you left off.' : 'It takes ten seconds. No email needed.'}</p>
          </div>

          {notice && (
            <div className="alert alert-info" role="status">
              <AlertIcon size={18} />
              <span>{notice}</span>
            </div>
          )}

          <div className="tabs" role="tablist" aria-label="Sign in or create an account" onKeyDown={onTabKey}>
            {(['signin', 'register'] as const).map((m) => (
              <button
                key={m}
                ref={(el) => {
                  tabs.current[m] = el;
                }}
                type="button"
                role="tab"
                id={`tab-${m}`}
                className="tab"
                aria-selected={mode === m}
                aria-controls="auth-panel"
                tabIndex={mode === m ? 0 : -1}
                onClick={() => switchTo(m)}
              >
                {m === 'signin' ? 'Sign in' : 'Create account'}
              </button>
            ))}
          </div>

          <form id="auth-panel" role="tabpanel" aria-labelledby={`tab-${mode}`} className="auth-form" onSubmit={submit} noValidate>
            {error.message && (
              <div className="alert" role="alert">
                <AlertIcon size={18} />
                <span>{error.message}</span>
              </div>
            )}
            <Field
              inputRef={firstField}
              label={isSignIn ? 'Username or email' : 'Username'}
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              autoCorrect="off"
              spellCheck={false}
              maxLength={isSignIn ? 254 : LIMITS.usernameMax}
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              error={f.username ?? (isSignIn ? f.email : undefined)}
              {...(!isSignIn && { hint: `${LIMITS.usernameMin}-${LIMITS.usernameMax} letters, digits, _ . or -` })}
            />
            {!isSignIn && (
              <Field
                label="Email"
                optional
                name="email"
                type="email"
                autoComplete="email"
                value={email}
                onChange={(e) => setEmail(e.target.value)}
                error={f.email}
              />
            )}
            <Field
              label="Password"
              name="password"
              password
              autoComplete={isSignIn ? 'current-password' : 'new-password'}
              maxLength={LIMITS.passwordMax}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              error={f.password}
              {...(!isSignIn && { hint: `At least ${LIMITS.passwordMin} characters` })}
            />
            <button type="submit" className="btn btn-primary btn-block" aria-busy={busy} aria-disabled={busy}>
              {busy && <Spinner />}
              {busy ? (isSignIn ? 'Signing in…' : 'Creating account…') : isSignIn ? 'Sign in' : 'Create account'}
            </button>
          </form>
          <p className="auth-foot">
            {isSignIn ? 'New here? ' : 'Already have an account? '}
            <button type="button" className="link-button" onClick={() => switchTo(isSignIn ? 'register' : 'signin')}>
              {isSignIn ? 'Create an account' : 'Sign in'}
            </button>
          </p>
        </div>
      </main>
    </div>
  );
}
