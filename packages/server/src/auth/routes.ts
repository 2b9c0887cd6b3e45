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
import { isHttps } from '../http/origin.js';
import { UniqueViolation, type SessionRecord, type UserRecord } from '../storage/types.js';
import { selfUser } from '../users/present.js';
import { PasswordHasher } from './passwords.js';
import { Throttle } from './throttle.js';

export const SESSION_COOKIE = 'chatter_session';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 409: ErrorResponse, 429: ErrorResponse };

/** Accounts and sessions: register, login, logout, me, change password. */
export default async function authRoutes(app: FastifyInstance): Promise<void> {
  const { config, store, sessions } = app;
  const perUser = new Throttle(config.loginMaxPerUser, config.loginUserWindowMs);
  const perIp = new Throttle(config.loginMaxPerIp, config.loginIpWindowMs);
  const hasher = new PasswordHasher();
  const hashPassword = (password: string, cost: number) => hasher.hash(password, cost);
  const verifyPassword = (password: string, hash: string) => hasher.verify(password, hash);
  app.addHook('onClose', async () => {
    perUser.close();
    perIp.close();
    await hasher.close();
  });

  // Compared against when the user does not exist, so a wrong username costs the same time as a
  // wrong password and response timing does not reveal which usernames exist.
  // Computed in the background so start-up does not wait for it.
  let dummyHash: Promise<string> | null = null;
  const getDummyHash = () => (dummyHash ??= hashPassword('chatter-timing-equaliser', config.bcryptCost));
  void getDummyHash().catch((err: unknown) => {
    dummyHash = null; // try again on the next sign-in
    app.log.error({ err }, 'computing the timing hash failed');
  });

  async function startSession(request: FastifyRequest, reply: FastifyReply, user: UserRecord, mode: SessionMode) {
    const { token, session } = await sessions.create(user.id);
    const expiresAt = new Date(session.expiresAt).toISOString();
    if (mode === 'cookie') {
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
      const passwordHash = await hashPassword(password, config.bcryptCost);
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
      const ipKey = `ip:${request.ip}`;
      const user = await store.getUserByLogin(username !== undefined ? { username } : { email: email! });
      // One counter per account, whether it is addressed by username or by email; an unknown login
      // gets its own counter so that probing for accounts is throttled the same way.
      const userKey = user ? `user:${user.id}` : `login:${(username ?? email ?? '').toLowerCase()}`;
      const wait = Math.max(perUser.retryAfter(userKey), perIp.retryAfter(ipKey));
      if (wait > 0) {
        reply.header('Retry-After', String(wait));
        throw new AppError('rate_limited', `Too many sign-in attempts. Try again in ${wait} s.`, { retryAfter: wait });
      }
      perIp.hit(ipKey);
      const ok = await verifyPassword(password, user?.passwordHash ?? (await getDummyHash()));
      if (!user || !ok) {
        perUser.hit(userKey);
        throw new AppError('invalid_credentials');
      }
      perUser.reset(userKey);
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
      if (!(await verifyPassword(currentPassword, user.passwordHash))) {
        throw new AppError('wrong_password', undefined, { fields: { currentPassword: 'The current password is not correct.' } });
      }
      await store.setPasswordHash(user.id, await hashPassword(newPassword, config.bcryptCost));
      const revoked = await sessions.revokeOthers(user.id, session.id);
      request.log.info({ userId: user.id, revokedSessions: revoked.length }, 'password changed');
      reply.code(204).send();
    },
  );
}
