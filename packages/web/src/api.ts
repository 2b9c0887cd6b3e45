import { ChatterApi, ChatterApiError } from '@chatter/client';

/** The REST client. The session lives in an HttpOnly cookie, so page scripts never hold a token. */
export const api = new ChatterApi({ baseUrl: '', credentials: 'same-origin' });

export interface ShownError {
  /** A sentence for the whole form, or null when field messages say it all. */
  message: string | null;
  fields: Record<string, string>;
}

/** Turn any failure into words a person can act on: never "[object Object]". */
export function describeError(err: unknown): ShownError {
  if (err instanceof ChatterApiError) {
    const fields = { ...err.fields };
    switch (err.code) {
      case 'validation_failed':
        return { message: Object.keys(fields).length ? null : err.message, fields };
      case 'rate_limited': {
        const wait = err.retryAfter ? ` Try again in ${formatWait(err.retryAfter)}.` : ' Try again in a moment.';
        return { message: `Too many attempts.${wait}`, fields };
      }
      case 'network_error':
        return { message: "Can't reach the server. Check your connection and try again.", fields };
      case 'username_taken':
      case 'email_taken':
      case 'wrong_password':
        return { message: Object.keys(fields).length ? null : err.message, fields };
      default:
        return { message: err.message || 'Something went wrong. Try again.', fields };
    }
  }
  if (err instanceof Error && err.message) return { message: err.message, fields: {} };
  return { message: 'Something went wrong. Try again.', fields: {} };
}

function formatWait(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.ceil(s / 60);
  return `${m} minute${m === 1 ? '' : 's'}`;
}

// Not a credential: only remembers that this browser had a session, so an expired one can be
// explained ("your session ended") instead of silently showing the sign-in page.
const HAD_SESSION = 'chatter.hadSession';
export const sessionMarker = {
  set(): void {
    try {
      localStorage.setItem(HAD_SESSION, '1');
    } catch {
      /* storage disabled */
    }
  },
  clear(): void {
    try {
      localStorage.removeItem(HAD_SESSION);
    } catch {
      /* storage disabled */
    }
  },
  get(): boolean {
    try {
      return localStorage.getItem(HAD_SESSION) === '1';
    } catch {
      return false;
    }
  },
};
