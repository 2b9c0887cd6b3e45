/** Reconnect delays: exponential growth, capped, with full jitter. */
export interface BackoffOptions {
  /** Ceiling of the first delay, ms. Default 500. */
  initialDelayMs?: number;
  /** Largest ceiling, ms. Default 30000. */
  maxDelayMs?: number;
  /** Growth of the ceiling per attempt. Default 2. */
  factor?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 };

/** The longest wait before attempt `attempt` (1-based). */
export function backoffCeiling(attempt: number, opts: BackoffOptions = {}): number {
  const { initialDelayMs, maxDelayMs, factor } = { ...DEFAULT_BACKOFF, ...opts };
  return Math.min(maxDelayMs, initialDelayMs * factor ** Math.max(0, attempt - 1));
}

/**
 * "Full jitter": a uniform wait between 0 and the ceiling. After a server restart, thousands of
 * clients then spread their reconnects over the whole window instead of arriving in waves.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(attempt, opts));
}
