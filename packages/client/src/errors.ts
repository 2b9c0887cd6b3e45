import type { FieldErrors } from '@chatter/protocol';

export interface ChatterApiErrorInit {
  /** HTTP status; 0 when no HTTP response was involved (network failure, socket request, local check). */
  status: number;
  /** A code from the server's error catalogue, or one of the SDK's own: `network_error`, `invalid_response`, `offline`, `timeout`, `http_error`. */
  code: string;
  /** A sentence meant for a person. */
  message: string;
  fields?: FieldErrors;
  retryAfter?: number;
  details?: Record<string, unknown>;
}

/**
 * Every failure the SDK reports: REST errors, rejected socket requests and local validation.
 * `message` is always a readable sentence (the server's when it sent one).
 */
export class ChatterApiError extends Error {
  override readonly name = 'ChatterApiError';
  readonly status: number;
  readonly code: string;
  /** Field name -> sentence, on `validation_failed`; empty otherwise. */
  readonly fields: FieldErrors;
  /** Seconds to wait before retrying, on `rate_limited`. */
  readonly retryAfter?: number;
  readonly details: Record<string, unknown>;

  constructor(init: ChatterApiErrorInit) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.fields = init.fields ?? {};
    if (init.retryAfter !== undefined) this.retryAfter = init.retryAfter;
    this.details = init.details ?? {};
  }
}

/** Keep only string values: the shape `details.fields` is documented to have. */
export function fieldsFrom(details: unknown): FieldErrors | undefined {
  if (!isRecord(details) || !isRecord(details.fields)) return undefined;
  const fields: FieldErrors = {};
  for (const [name, sentence] of Object.entries(details.fields)) {
    if (typeof sentence === 'string') fields[name] = sentence;
  }
  return fields;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
