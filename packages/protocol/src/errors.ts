/**
 * The one error catalogue. Every error Chatter reports, over REST (`{error: {code, message, details?}}`
 * with the HTTP status below) or WebSocket (an `error` frame with the same code), comes from here.
 * Codes are stable API; messages are for humans and may change.
 */
export const ERRORS = {
  validation_failed: { status: 400, message: 'Some fields are invalid.' },
  invalid_json: { status: 400, message: 'The body is not valid JSON.' },
  bad_frame: { status: 400, message: 'The frame is not valid JSON.' },
  unknown_type: { status: 400, message: 'Unknown frame type.' },
  bad_request: { status: 400, message: 'The request is malformed.' },
  unauthorized: { status: 401, message: 'Sign in to continue.' },
  invalid_credentials: { status: 401, message: 'Wrong username or password.' },
  session_expired: { status: 401, message: 'Your session has expired. Sign in again.' },
  wrong_password: { status: 403, message: 'The current password is not correct.' },
  forbidden_origin: { status: 403, message: 'Requests from this origin are not allowed.' },
  forbidden: { status: 403, message: 'You are not allowed to do that.' },
  not_found: { status: 404, message: 'Not found.' },
  room_not_found: { status: 404, message: 'No such room.' },
  message_not_found: { status: 404, message: 'No such message in this room.' },
  user_not_found: { status: 404, message: 'No such user.' },
  not_a_member: { status: 403, message: 'Join the room first.' },
  room_archived: { status: 409, message: 'The room is archived: it is read-only.' },
  message_deleted: { status: 409, message: 'The message was deleted.' },
  too_many_reactions: { status: 409, message: 'This message has as many different reactions as it can take.' },
  too_many_rooms: { status: 409, message: 'You are in as many rooms as you can be; leave one first.' },
  idempotency_conflict: { status: 409, message: 'This client id was already used for a different request.' },
  username_taken: { status: 409, message: 'That username is taken.' },
  email_taken: { status: 409, message: 'That email is already registered.' },
  already_authenticated: { status: 409, message: 'This connection is already signed in.' },
  request_timeout: { status: 408, message: 'The request took too long to arrive.' },
  payload_too_large: { status: 413, message: 'The request is too large.' },
  uri_too_long: { status: 414, message: 'The address is too long.' },
  unsupported_media_type: { status: 415, message: 'That file type is not supported.' },
  headers_too_large: { status: 431, message: 'The request headers are too large.' },
  rate_limited: { status: 429, message: 'Too many requests. Slow down.' },
  internal: { status: 500, message: 'Something went wrong on our side.' },
  unavailable: { status: 503, message: 'The server is shutting down or not ready.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Field-level problems, keyed by field name (for example `{username: 'Use 3-32 characters.'}`). */
export type FieldErrors = Record<string, string>;

export interface ErrorDetails {
  fields?: FieldErrors;
  /** Seconds to wait before retrying (also sent as the `Retry-After` header over REST). */
  retryAfter?: number;
  [key: string]: unknown;
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: ErrorDetails };
}

/**
 * WebSocket close codes. 1xxx are the standard ones Chatter uses; 4xxx are Chatter's own.
 * A client should reconnect after any code except those listed in `FATAL_CLOSE_CODES`.
 */
export const CLOSE_CODES = {
  /** Server shutting down; reconnect (to this or another node) and resume. */
  going_away: 1001,
  /** Inbound frame larger than the limit (64 KiB by default). */
  too_big: 1009,
  /** Unexpected server error. */
  internal: 1011,
  /** The connect URL's parameters (`history`, `resume`) are invalid. */
  bad_request: 4000,
  /** No valid credentials: missing, unknown or expired token. Sign in again. */
  unauthorized: 4001,
  /** The session ended while connected: logout, password change, or expiry. Sign in again. */
  session_ended: 4002,
  /** The client did not authenticate within the deadline after connecting. */
  auth_timeout: 4003,
  /** The client asked for a protocol version this server does not speak. */
  unsupported_protocol: 4004,
  /** The socket's unsent data passed the cap: the client reads too slowly. Reconnect and resume. */
  slow_consumer: 4008,
  /** The peer did not answer heartbeat pings. */
  heartbeat_timeout: 4009,
  /**
   * The client kept sending after its frames were refused as `rate_limited`, or opened more sockets
   * than its user, address or the server allows. Reconnect after a backoff.
   */
  rate_limited: 4029,
} as const;

export type CloseReason = keyof typeof CLOSE_CODES;

/** Close codes after which reconnecting with the same credentials is pointless. */
export const FATAL_CLOSE_CODES: readonly number[] = [
  CLOSE_CODES.bad_request,
  CLOSE_CODES.unauthorized,
  CLOSE_CODES.session_ended,
  CLOSE_CODES.unsupported_protocol,
];
