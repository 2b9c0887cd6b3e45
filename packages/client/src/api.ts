import {
  ERRORS,
  type AuthResponse,
  type ChangePasswordBody,
  type HealthResponse,
  type HistoryQuery,
  type HistoryResponse,
  type LoginBody,
  type MeResponse,
  type RegisterBody,
  type RegisterResponse,
  type AddMemberBody,
  type ChangeResponse,
  type CreateRoomBody,
  type MembersResponse,
  type MessageResponse,
  type MyRoomsResponse,
  type PublicRoomsQuery,
  type PublicRoomsResponse,
  type ReadResponse,
  type RoomResponse,
  type SessionsResponse,
  type UpdateMemberBody,
  type UpdateMembershipBody,
  type UpdateRoomBody,
  type UserSearchQuery,
  type UsersResponse,
} from '@chatter/protocol';
import { ChatterApiError, fieldsFrom, isRecord } from './errors.js';

export interface ChatterApiOptions {
  /** Server base URL such as `https://chat.example.com`. Default `''`: same origin (browser only). */
  baseUrl?: string;
  /** Bearer token. Leave unset in the web app, where the session lives in an HttpOnly cookie. */
  token?: string;
  /** A `fetch` implementation; default the global one. */
  fetch?: typeof fetch;
  /** Passed to `fetch` (for example `'include'` when the API is on another origin and uses the cookie). */
  credentials?: RequestCredentials;
  /**
   * Sent as `User-Agent` outside browsers (which set their own), so the user's list of sessions can
   * name this client: `chatter-cli/1.2` is listed as "chatter CLI".
   */
  userAgent?: string;
}

/**
 * The REST API. Every method resolves with the response body, or rejects with a
 * `ChatterApiError` whose message is a sentence from the server.
 */
export class ChatterApi {
  /** Sent as `Authorization: Bearer`. Set by `login`/`register` when the server returns a token; cleared by `logout`. */
  token: string | undefined;
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch | undefined;
  private readonly credentials: RequestCredentials | undefined;
  private readonly userAgent: string | undefined;

  constructor(opts: ChatterApiOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? '').replace(/\/+$/, '');
    this.token = opts.token;
    this.fetchImpl = opts.fetch;
    this.credentials = opts.credentials;
    this.userAgent = opts.userAgent;
  }

  /** Create an account. With `session: 'token'` (or `'cookie'`) it also signs in. */
  async register(body: RegisterBody): Promise<RegisterResponse> {
    const res = await this.request<RegisterResponse>('POST', '/api/register', body);
    if (res.token) this.token = res.token;
    return res;
  }

  /** Sign in (`session` defaults to `'token'` on the server); a returned token is kept for later calls. */
  async login(body: LoginBody): Promise<AuthResponse> {
    const res = await this.request<AuthResponse>('POST', '/api/login', body);
    if (res.token) this.token = res.token;
    return res;
  }

  /**
   * End the session and forget the token. A session that was already gone (401) counts as
   * signed out, so this only rejects when the server could not be asked.
   */
  async logout(): Promise<void> {
    try {
      await this.request<void>('POST', '/api/logout');
    } catch (err) {
      if (!(err instanceof ChatterApiError && err.status === 401)) throw err;
    } finally {
      this.token = undefined;
    }
  }

  me(): Promise<MeResponse> {
    return this.request<MeResponse>('GET', '/api/me');
  }

  /** Change the password; the server signs out every other session of the user. */
  changePassword(body: ChangePasswordBody): Promise<void> {
    return this.request<void>('PUT', '/api/me/password', body);
  }

  /**
   * The signed-in user's sessions (devices), most recently seen first; `current` marks this one.
   *
   * ```ts
   * const { sessions } = await api.sessions();
   * for (const s of sessions.filter((s) => !s.current)) await api.revokeSession(s.id);
   * ```
   */
  sessions(): Promise<SessionsResponse> {
    return this.request<SessionsResponse>('GET', '/api/me/sessions');
  }

  /** Sign out one of the user's sessions; its sockets are closed. Rejects with `not_found` for a session that is not theirs. */
  revokeSession(id: number): Promise<void> {
    return this.request<void>('DELETE', `/api/me/sessions/${encodeURIComponent(String(id))}`);
  }

  /** The rooms the user is in, most recently active first, with read positions and unread counts. */
  rooms(): Promise<MyRoomsResponse> {
    return this.request<MyRoomsResponse>('GET', '/api/rooms');
  }

  /** Public channels to browse, with whether the user is in each. */
  publicRooms(q: PublicRoomsQuery = {}): Promise<PublicRoomsResponse> {
    return this.request<PublicRoomsResponse>('GET', `/api/rooms/public${query(q)}`);
  }

  /**
   * Create a channel. `idempotencyKey` (any of the client-id characters) makes a retry create it
   * once: pass the same key when repeating a request whose answer was lost.
   */
  createRoom(body: CreateRoomBody, idempotencyKey?: string): Promise<RoomResponse> {
    return this.request<RoomResponse>('POST', '/api/rooms', body, idempotencyKey);
  }

  /** A room the user may see (a public one previewed: `membership` null). */
  room(id: string): Promise<RoomResponse> {
    return this.request<RoomResponse>('GET', roomPath(id));
  }

  /** Rename, change the topic, archive or unarchive (owners and admins). */
  updateRoom(id: string, body: UpdateRoomBody, idempotencyKey?: string): Promise<RoomResponse> {
    return this.request<RoomResponse>('PATCH', roomPath(id), body, idempotencyKey);
  }

  joinRoom(id: string, idempotencyKey?: string): Promise<RoomResponse> {
    return this.request<RoomResponse>('POST', `${roomPath(id)}/join`, undefined, idempotencyKey);
  }

  /** Leave a room (not `general`, not a DM). */
  leaveRoom(id: string, idempotencyKey?: string): Promise<ChangeResponse> {
    return this.request<ChangeResponse>('POST', `${roomPath(id)}/leave`, undefined, idempotencyKey);
  }

  /** The user's own settings in a room: which messages notify them. */
  updateMembership(id: string, body: UpdateMembershipBody): Promise<RoomResponse> {
    return this.request<RoomResponse>('PATCH', `${roomPath(id)}/membership`, body);
  }

  members(id: string): Promise<MembersResponse> {
    return this.request<MembersResponse>('GET', `${roomPath(id)}/members`);
  }

  /** Invite someone to a room (a private one: owners and admins). */
  addMember(id: string, userId: AddMemberBody['userId'], idempotencyKey?: string): Promise<ChangeResponse> {
    return this.request<ChangeResponse>('POST', `${roomPath(id)}/members`, { userId }, idempotencyKey);
  }

  removeMember(id: string, userId: number, idempotencyKey?: string): Promise<ChangeResponse> {
    return this.request<ChangeResponse>('DELETE', `${roomPath(id)}/members/${encodeURIComponent(String(userId))}`, undefined, idempotencyKey);
  }

  /** Make a member an admin or an admin a member (the owner only). */
  updateMember(id: string, userId: number, body: UpdateMemberBody, idempotencyKey?: string): Promise<ChangeResponse> {
    return this.request<ChangeResponse>('PATCH', `${roomPath(id)}/members/${encodeURIComponent(String(userId))}`, body, idempotencyKey);
  }

  /** Open the direct message with these people (the same set always opens the same one). */
  openDm(userIds: number[], idempotencyKey?: string): Promise<RoomResponse> {
    return this.request<RoomResponse>('POST', '/api/dms', { userIds }, idempotencyKey);
  }

  /** Users whose name starts with `q`, case-insensitive. */
  searchUsers(q: UserSearchQuery['q'], limit?: number): Promise<UsersResponse> {
    return this.request<UsersResponse>('GET', `/api/users${query({ q, limit })}`);
  }

  /** Change the text of one's own message; resolves with the message as it is now. */
  editMessage(room: string, messageId: number, text: string, idempotencyKey?: string): Promise<MessageResponse> {
    return this.request<MessageResponse>('PATCH', messagePath(room, messageId), { text }, idempotencyKey);
  }

  deleteMessage(room: string, messageId: number, idempotencyKey?: string): Promise<ChangeResponse> {
    return this.request<ChangeResponse>('DELETE', messagePath(room, messageId), undefined, idempotencyKey);
  }

  /** Add (`on`) or remove one's reaction; `seq` is null when nothing changed. */
  react(room: string, messageId: number, emoji: string, on: boolean, idempotencyKey?: string): Promise<ChangeResponse> {
    return this.request<ChangeResponse>(on ? 'PUT' : 'DELETE', `${messagePath(room, messageId)}/reactions/${encodeURIComponent(emoji)}`, undefined, idempotencyKey);
  }

  /** Move the user's read position (forward only); the counts come back. */
  markRead(room: string, seq: number): Promise<ReadResponse> {
    return this.request<ReadResponse>('POST', `${roomPath(room)}/read`, { seq });
  }

  /** A page of a room's messages, oldest first: `before` pages back, `after` pages forward. */
  history(room: string, q: HistoryQuery = {}): Promise<HistoryResponse> {
    const params = new URLSearchParams();
    for (const key of ['before', 'after', 'limit'] as const) {
      const value = q[key];
      if (value !== undefined) params.set(key, String(value));
    }
    return this.request<HistoryResponse>('GET', `${roomPath(room)}/messages${params.size > 0 ? `?${params}` : ''}`);
  }

  health(): Promise<HealthResponse> {
    return this.request<HealthResponse>('GET', '/api/health');
  }

  /**
   * Any route. A plain object `body` is sent as JSON; `FormData`, `Blob`, `ArrayBuffer`,
   * `URLSearchParams` and strings are sent as they are (for uploads). Resolves with the parsed
   * JSON body, or `undefined` for an empty response (204).
   */
  async request<T>(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (idempotencyKey !== undefined) headers['Idempotency-Key'] = idempotencyKey;
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    // Browsers refuse to let pages set User-Agent; elsewhere it names this client in the sessions list.
    if (this.userAgent && typeof document === 'undefined') headers['User-Agent'] = this.userAgent;
    const init: RequestInit = { method, headers };
    if (this.credentials !== undefined) init.credentials = this.credentials;
    if (body !== undefined) {
      if (isRawBody(body)) init.body = body;
      else {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
    }

    let res: Response;
    try {
      // Called as a method of globalThis: browsers throw "Illegal invocation" for a detached fetch.
      res = await (this.fetchImpl ? this.fetchImpl(this.baseUrl + path, init) : globalThis.fetch(this.baseUrl + path, init));
    } catch (err) {
      throw new ChatterApiError({
        status: 0,
        code: 'network_error',
        message: 'Could not reach the server. Check your connection and try again.',
        details: { cause: err instanceof Error ? err.message : String(err) },
      });
    }

    const text = await res.text().catch(() => '');
    let data: unknown;
    if (text !== '') {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (!res.ok) throw errorFromResponse(res, data);
    if (text !== '' && data === undefined) {
      throw new ChatterApiError({ status: res.status, code: 'invalid_response', message: 'The server sent a response that is not JSON.' });
    }
    return data as T;
  }
}

function roomPath(room: string): string {
  return `/api/rooms/${encodeURIComponent(room)}`;
}

function messagePath(room: string, messageId: number): string {
  return `${roomPath(room)}/messages/${encodeURIComponent(String(messageId))}`;
}

function query(q: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(q)) if (value !== undefined) params.set(key, String(value));
  return params.size > 0 ? `?${params}` : '';
}

function isRawBody(body: unknown): body is BodyInit {
  return (
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    (typeof FormData !== 'undefined' && body instanceof FormData) ||
    (typeof URLSearchParams !== 'undefined' && body instanceof URLSearchParams) ||
    (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream)
  );
}

function errorFromResponse(res: Response, data: unknown): ChatterApiError {
  const error = isRecord(data) && isRecord(data.error) ? data.error : undefined;
  const details = error && isRecord(error.details) ? error.details : undefined;
  const code = typeof error?.code === 'string' ? error.code : codeForStatus(res.status);
  const known = (ERRORS as Record<string, { message: string } | undefined>)[code];
  const message =
    typeof error?.message === 'string' && error.message !== ''
      ? error.message
      : (known?.message ?? `The server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`);
  const retryAfter = typeof details?.retryAfter === 'number' ? details.retryAfter : parseRetryAfter(res.headers.get('Retry-After'));
  const fields = fieldsFrom(details);
  return new ChatterApiError({
    status: res.status,
    code,
    message,
    ...(fields && { fields }),
    ...(retryAfter !== undefined && { retryAfter }),
    ...(details && { details }),
  });
}

/** For responses without a Chatter error body (a proxy's 502 page, say). */
function codeForStatus(status: number): string {
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 413) return 'payload_too_large';
  if (status === 429) return 'rate_limited';
  if (status === 502 || status === 503 || status === 504) return 'unavailable';
  if (status >= 500) return 'internal';
  return 'http_error';
}

/** `Retry-After` is either seconds or an HTTP date. */
function parseRetryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+(\.\d+)?$/.test(header.trim())) return Number(header);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
