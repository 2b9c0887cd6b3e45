import { useCallback, useSyncExternalStore } from 'react';

/**
 * Theme preference: follow the system unless the person picked one. The CSS reads colors through
 * light-dark() and follows the system by itself before any script runs; afterwards the script
 * always pins the resolved theme on <html data-theme>, because Chromium does not restyle
 * light-dark() inside custom properties when only the system preference changes.
 */
export type ThemePreference = 'system' | 'light' | 'dark';
export type Theme = 'light' | 'dark';

const STORAGE_KEY = 'chatter.theme';
const media = typeof window !== 'undefined' ? window.matchMedia('(prefers-color-scheme: dark)') : null;
const listeners = new Set<() => void>();

function readPreference(): ThemePreference {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === 'light' || value === 'dark' ? value : 'system';
  } catch {
    return 'system';
  }
}

let preference = readPreference();

function apply(): void {
  document.documentElement.dataset.theme = preference === 'system' ? (media?.matches ? 'dark' : 'light') : preference;
}

export function initTheme(): void {
  apply();
  media?.addEventListener('change', () => {
    apply();
    listeners.forEach((l) => l());
  });
}

export function setThemePreference(next: ThemePreference): void {
  preference = next;
  try {
    if (next === 'system') localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Private mode without storage: the choice lasts for this page only.
  }
  apply();
  listeners.forEach((l) => l());
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const snapshot = () => `${preference}:${media?.matches ? 'dark' : 'light'}`;

export function useTheme(): { preference: ThemePreference; theme: Theme; setPreference: (p: ThemePreference) => void; toggle: () => void } {
  const snap = useSyncExternalStore(subscribe, snapshot, snapshot);
  const [pref, system] = snap.split(':') as [ThemePreference, Theme];
  const theme: Theme = pref === 'system' ? system : pref;
  // Toggling to the theme the system already uses means "follow the system" again.
  const toggle = useCallback(() => {
    const next: Theme = theme === 'dark' ? 'light' : 'dark';
    setThemePreference(next === system ? 'system' : next);
  }, [theme, system]);
  return { preference: pref, theme, setPreference: setThemePreference, toggle };
}
