import { ErrorResponse, SessionIdParams, SessionsResponse } from '@chatter/protocol';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import { SESSION_COOKIE } from './sessions.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** "Your sessions": every device signed in to the account, and a way to sign one out. */
export default async function sessionRoutes(app: FastifyInstance): Promise<void> {
  const { sessions } = app;

  app.get(
    '/api/me/sessions',
    {
      preHandler: app.requireAuth,
      schema: { tags: ['accounts'], summary: 'The signed-in user\'s sessions', response: { 200: SessionsResponse, 401: ErrorResponse } },
    },
    async (request) => {
      const { user, session: current } = request.auth!;
      const now = Date.now();
      const list = await sessions.list(user.id, now);
      // The current session's use is now, so it comes first; the rest keep the store's order.
      list.sort((a, b) => Number(b.id === current.id) - Number(a.id === current.id));
      return {
        sessions: list.map((s) => ({
          id: s.id,
          current: s.id === current.id,
          createdAt: iso(s.createdAt),
          // This very request is a use of the current session, whatever the hourly record says.
          lastSeenAt: iso(s.id === current.id ? now : s.lastSeenAt),
          expiresAt: iso(s.id === current.id ? current.expiresAt : s.expiresAt),
          device: s.device || 'Unknown device',
        })),
      };
    },
  );

  app.delete<{ Params: SessionIdParams }>(
    '/api/me/sessions/:id',
    {
      preHandler: app.requireAuth,
      schema: {
        tags: ['accounts'],
        summary: 'Revoke one of your sessions and close its sockets',
        params: SessionIdParams,
        response: { 204: { type: 'null' }, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { user, session: current } = request.auth!;
      // Someone else's session answers exactly like one that does not exist.
      if (!(await sessions.revokeOwn(user.id, request.params.id))) throw new AppError('not_found', 'No such session.');
      if (request.params.id === current.id && request.auth!.via === 'cookie') reply.clearCookie(SESSION_COOKIE, { path: '/' });
      reply.code(204).send();
    },
  );
}
