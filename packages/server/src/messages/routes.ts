import { ErrorResponse, HistoryQuery, HistoryResponse, LIMITS, RoomsResponse } from '@chatter/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import { presentStored } from './present.js';

/** Rooms and history over REST (the WebSocket `history` frame serves the same pages). */
export default async function messageRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/api/rooms',
    { preHandler: app.requireAuth, schema: { tags: ['messages'], summary: 'Rooms the user is in, with their latest sequence', response: { 200: RoomsResponse, 401: ErrorResponse } } },
    async () => ({ rooms: (await app.store.listRooms()).map((r) => ({ id: r.id, name: r.name, lastSeq: r.lastSeq })) }),
  );

  app.get<{ Params: { room: string }; Querystring: HistoryQuery }>(
    '/api/rooms/:room/messages',
    {
      preHandler: app.requireAuth,
      schema: {
        tags: ['messages'],
        summary: 'A page of history. `before` pages back from a sequence (default: the newest); `after` pages forward.',
        params: Type.Object({ room: Type.String({ maxLength: 64 }) }),
        querystring: HistoryQuery,
        response: { 200: HistoryResponse, 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request) => {
      const { room } = request.params;
      const { before, after, limit = 50 } = request.query;
      const page = await app.messages.history(room, { before, after, limit: Math.min(limit, LIMITS.historyPageMax) });
      // Read after the page, so lastSeq is at least every seq in it.
      const record = await app.store.getRoom(room);
      if (!record) throw new AppError('room_not_found');
      return { room, messages: page.messages.map(presentStored), hasMore: page.hasMore, lastSeq: record.lastSeq };
    },
  );
}
