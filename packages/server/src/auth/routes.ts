import {
  AuthResponse,
  ChangePasswordBody,
  ErrorResponse,
  LoginBody,
  MeResponse,
  RegisterBody,
  RegisterResponse,
  type SessionMode,
} from '@chatter/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { addressKey, clientIp } from '../http/client-ip.js';
import { isHttps } from '../http/origin.js';
import { UniqueViolation, type SessionRecord, type UserRecord } from '../storage/types.js';
import { publicUser, selfUser } from '../users/present.js';
import { DeviceCookies, describeDevice } from './devices.js';
import { HashQueueFull, PasswordHasher } from './passwords.js';
import sessionRoutes from './session-routes.js';
import { SESSION_COOKIE } from './sessions.js';
import { LoginThrottle, Throttle } from './throttle.js';

export { SESSION_COOKIE } from './sessions.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 409: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse };

/** 429 with the wait in the header and in `details.retryAfter`. */
function rateLimited(reply: FastifyReply, retryAfter: number, what: string): AppError {
  reply.header('Retry-After', String(retryAfter));
  return new AppError('rate_limited', `Too many ${what}. Try again in ${retryAfter} s.`, { retryAfter });
}

/** 503 when the password hashing queue is full: nothing was checked or stored; come back later. */
function busy(reply: FastifyReply, err: HashQueueFull): AppError {
  reply.header('Retry-After', String(err.retryAfter));
  return new AppError('unavailable', `The server is busy. Try again in ${err.retryAfter} s.`, { retryAfter: err.retryAfter });
}

/** Accounts and sessions: register, login, logout, me, change password, and the list of sessions. */
export default async function authRoutes(app: FastifyInstance): Promise<void> {
  const { config, store, sessions } = app;
  const logins = new LoginThrottle({
    freeFailures: config.loginMaxPerUser,
    baseDelayMs: config.loginBackoffMs,
    maxDelayMs: config.loginUserWindowMs,
    maxPerAccount: config.loginMaxPerAccount,
    accountWindowMs: config.loginAccountWindowMs,
    maxPerIp: config.loginMaxPerIp,
    ipWindowMs: config.loginIpWindowMs,
  });
  const registrationsPerIp = new Throttle(config.registerMaxPerIp, config.registerIpWindowMs);
  const registrations = new Throttle(config.registerMaxTotal, config.registerTotalWindowMs);
  const hasher = new PasswordHasher({ maxQueued: config.hashQueueMax });
  const devices = new DeviceCookies(store, config);
  app.addHook('onClose', async () => {
    logins.close();
    registrationsPerIp.close();
    registrations.close();
    await hasher.close();
  });
  const addressOf = (request: FastifyRequest) => addressKey(clientIp(request.raw, config));

  // Compared against when the user does not exist, so a wrong username costs the same time as a
  // wrong password and response timing does not reveal which usernames exist.
  // Computed in the background so start-up does not wait for it.
  let dummyHash: Promise<string> | null = null;
  const getDummyHash = () =>
    (dummyHash ??= hasher.hash('chatter-timing-equaliser', config.bcryptCost).catch((err: unknown) => {
      dummyHash = null; // a full queue or a failed worker must not stick: try again on the next sign-in
      throw err;
    }));
  void getDummyHash().catch((err: unknown) => app.log.error({ err }, 'computing the timing hash failed'));

  /**
   * Check a password under the login throttle: the attempt is counted before the (slow) check, so
   * parallel guesses cannot all pass while the first are still being checked. Resolves to whether
   * the password is right; throws 429 when this client must wait, 503 when the hashing queue is full.
   */
  async function checkPassword(request: FastifyRequest, reply: FastifyReply, account: string, user: UserRecord | null, password: string): Promise<boolean> {
    const device = user ? await devices.trustedFor(request, user.id) : undefined;
    const verdict = logins.reserve({ account, ip: addressOf(request), device });
    if (!verdict.ok) throw rateLimited(reply, verdict.retryAfter, 'sign-in attempts');
    let ok: boolean;
    try {
      ok = await hasher.verify(password, user?.passwordHash ?? (await getDummyHash()));
    } catch (err) {
      verdict.reservation.release();
      if (err instanceof HashQueueFull) throw busy(reply, err);
      throw err;
    }
    if (!ok || !user) {
      verdict.reservation.fail();
      if (device && !logins.deviceTrusted(device)) await devices.forget(device);
      return false;
    }
    verdict.reservation.succeed();
    return true;
  }

  async function startSession(request: FastifyRequest, reply: FastifyReply, user: UserRecord, mode: SessionMode) {
    const { token, session } = await sessions.create(user.id, describeDevice(request.headers['user-agent']));
    const expiresAt = new Date(session.expiresAt).toISOString();
    if (mode === 'cookie') {
      // Browsers only: token clients keep no cookies, and a token-mode answer sets none.
      await devices.issue(request, reply, user.id);
      // The cookie this one replaces would be unreachable from now on: end its session rather than
      // leave it valid (and listed) until it expires.
      const replaced = request.cookies[SESSION_COOKIE];
      const old = replaced ? await sessions.peek(replaced) : null;
      if (old && old.id !== session.id) await sessions.revoke(old.id);
      setSessionCookie(request, reply, token, session);
      return { user: selfUser(user), expiresAt };
    }
    return { user: selfUser(user), token, expiresAt };
  }

  function setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string, session: SessionRecord) {
    const secure = config.cookieSecure === 'auto' ? isHttps(request.raw, config.trustProxy) : config.cookieSecure;
    reply.setCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure,
      path: '/',
      maxAge: Math.floor((session.expiresAt - Date.now()) / 1000),
    });
  }

  app.post<{ Body: RegisterBody }>(
    '/api/register',
    { schema: { tags: ['accounts'], summary: 'Create an account', body: RegisterBody, response: { 201: RegisterResponse, ...errors } } },
    async (request, reply) => {
      const { username, password, email, session } = request.body;
      if (session === 'cookie') app.checkOrigin(request);
      // Each registration costs a bcrypt hash that anyone can ask for: cap them per address and in
      // total, before any hashing.
      const ip = addressOf(request);
      const wait = Math.max(registrationsPerIp.retryAfter(ip), registrations.retryAfter('all'));
      if (wait > 0) throw rateLimited(reply, wait, 'new accounts');
      registrationsPerIp.hit(ip);
      registrations.hit('all');
      let passwordHash: string;
      try {
        passwordHash = await hasher.hash(password, config.bcryptCost, 'signup');
      } catch (err) {
        if (!(err instanceof HashQueueFull)) throw err;
        registrationsPerIp.unhit(ip);
        registrations.unhit('all');
        throw busy(reply, err);
      }
      let user: UserRecord;
      try {
        user = await store.createUser({ username, email: email ?? null, passwordHash, createdAt: Date.now() });
      } catch (err) {
        if (err instanceof UniqueViolation) {
          throw new AppError(err.field === 'email' ? 'email_taken' : 'username_taken', undefined, {
            fields: { [err.field]: err.field === 'email' ? 'That email is already registered.' : 'That username is taken.' },
          });
        }
        throw err;
      }
      request.log.info({ userId: user.id }, 'user registered');
      // Everyone is in general from the start: a member_joined in its log, before the first hello.
      // The account exists either way; general is public, so a failure here costs a manual join.
      await app.conversations.joinDefault(publicUser(user)).catch((err: unknown) => request.log.error({ err, userId: user.id }, 'putting a new user in general failed'));
      reply.code(201);
      return session ? startSession(request, reply, user, session) : { user: selfUser(user) };
    },
  );

  app.post<{ Body: LoginBody }>(
    '/api/login',
    { schema: { tags: ['accounts'], summary: 'Sign in with username or email', body: LoginBody, response: { 200: AuthResponse, ...errors } } },
    async (request, reply) => {
      const { username, email, password, session = 'token' } = request.body;
      if (username === undefined && email === undefined) {
        throw AppError.validation({ username: 'Enter your username or email.' });
      }
      if (session === 'cookie') app.checkOrigin(request);
      const user = await store.getUserByLogin(username !== undefined ? { username } : { email: email! });
      // One counter per account, whether it is addressed by username or by email; an unknown login
      // gets its own counter so that probing for accounts is throttled the same way.
      const account = user ? `user:${user.id}` : `login:${(username ?? email ?? '').toLowerCase()}`;
      if (!(await checkPassword(request, reply, account, user, password)) || !user) throw new AppError('invalid_credentials');
      return startSession(request, reply, user, session);
    },
  );

  app.post(
    '/api/logout',
    { preHandler: app.requireAuth, schema: { tags: ['accounts'], summary: 'Revoke the current session', response: { 204: { type: 'null' }, 401: ErrorResponse } } },
    async (request, reply) => {
      await sessions.revoke(request.auth!.session.id);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      reply.code(204).send();
    },
  );

  app.get(
    '/api/me',
    { preHandler: app.requireAuth, schema: { tags: ['accounts'], summary: 'The signed-in user', response: { 200: MeResponse, 401: ErrorResponse } } },
    async (request) => {
      const { user, session } = request.auth!;
      return { user: selfUser(user), session: { expiresAt: new Date(session.expiresAt).toISOString() } };
    },
  );

  app.put<{ Body: ChangePasswordBody }>(
    '/api/me/password',
    {
      preHandler: app.requireAuth,
      schema: { tags: ['accounts'], summary: 'Change password; signs out every other session', body: ChangePasswordBody, response: { 204: { type: 'null' }, ...errors } },
    },
    async (request, reply) => {
      const { user, session } = request.auth!;
      const { currentPassword, newPassword } = request.body;
      if (newPassword.normalize('NFC') === currentPassword.normalize('NFC')) {
        throw AppError.validation({ newPassword: 'Choose a password different from your current one.' });
      }
      // A stolen session must not become a way to guess the password: same throttle as sign-in.
      if (!(await checkPassword(request, reply, `user:${user.id}`, user, currentPassword))) {
        throw new AppError('wrong_password', undefined, { fields: { currentPassword: 'The current password is not correct.' } });
      }
      let passwordHash: string;
      try {
        passwordHash = await hasher.hash(newPassword, config.bcryptCost);
      } catch (err) {
        if (err instanceof HashQueueFull) throw busy(reply, err);
        throw err;
      }
      await store.setPasswordHash(user.id, passwordHash);
      const revoked = await sessions.revokeOthers(user.id, session.id);
      request.log.info({ userId: user.id, revokedSessions: revoked.length }, 'password changed');
      reply.code(204).send();
    },
  );

  await app.register(sessionRoutes);
}
