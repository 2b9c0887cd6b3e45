import {
  AddMemberBody,
  ChangeResponse,
  CreateRoomBody,
  EditMessageBody,
  ErrorResponse,
  HistoryQuery,
  HistoryResponse,
  LIMITS,
  MemberParams,
  MembersResponse,
  MessageParams,
  MessageResponse,
  MyRoomsResponse,
  OpenDmBody,
  PublicRoomsQuery,
  PublicRoomsResponse,
  ReactionParams,
  ReadBody,
  ReadResponse,
  RoomIdParams,
  RoomResponse,
  UpdateMemberBody,
  UpdateMembershipBody,
  UpdateRoomBody,
  UserSearchQuery,
  UsersResponse,
} from '@chatter/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { RoomRecord } from '../storage/types.js';
import { publicUser } from '../users/present.js';
import { readable } from './access.js';
import { readAround } from './around.js';
import type { Actor, Outcome } from './actions.js';
import { presentMember, presentMyRoom, presentRoom, presentReplayed, presentStored } from './present.js';

/**
 * `Idempotency-Key`: the client's id for the change, as a WebSocket frame's `clientId` (same
 * pattern). A retried request with the same key happens once and gets `duplicate: true`.
 */
const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ pattern: LIMITS.clientIdPattern, errorMessage: 'Use 1-64 letters, digits, _ or -.', description: 'Makes a retried request happen once.' }),
  ),
});

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 429: ErrorResponse };
const tags = ['rooms'];
/** Most members `GET /api/rooms/{id}/members` lists. */
const MEMBERS_LISTED = 1000;

/** Rooms, DMs, membership, message changes and read state over REST. Every route asks `access` first (in the actions layer or here). */
export default async function conversationRoutes(app: FastifyInstance): Promise<void> {
  const { store, conversations } = app;
  const auth = { preHandler: app.requireAuth };
  const actor = (request: FastifyRequest): Actor => publicUser(request.auth!.user);
  const key = (request: FastifyRequest): string | null => (request.headers['idempotency-key'] as string | undefined) ?? null;
  const change = (o: Outcome) => ({ room: o.room, seq: o.seq, duplicate: o.duplicate });

  /** Changes to the log share the user's change budget with their WebSocket sends. */
  function chargeChange(request: FastifyRequest, reply: FastifyReply): void {
    const budgets = app.gateway.budgets;
    const wait = budgets.chargeMessage(budgets.get(request.auth!.user.id));
    if (wait > 0) {
      const retryAfter = Math.ceil(wait);
      reply.header('Retry-After', String(retryAfter));
      throw new AppError('rate_limited', 'You are making changes too fast.', { retryAfter });
    }
  }

  async function roomResponse(userId: number, room: RoomRecord) {
    const mine = await store.getUserRoom(userId, room.id, LIMITS.unreadCountMax);
    const current = mine?.room ?? room;
    return {
      room: presentRoom(current, current.kind === 'dm' ? await conversations.dmMembers(current.id) : []),
      membership: mine
        ? { role: mine.member.role, readSeq: mine.member.readSeq, unread: mine.unread, mentions: mine.mentions, notify: presentMyRoom(mine).notify }
        : null,
    };
  }

  app.get(
    '/api/rooms',
    { ...auth, schema: { tags, summary: 'The rooms and DMs the user is in, most recently active first, with unread and mention counts', response: { 200: MyRoomsResponse, 401: ErrorResponse } } },
    async (request) => ({ rooms: await conversations.listMyRooms(request.auth!.user.id) }),
  );

  app.get<{ Querystring: PublicRoomsQuery }>(
    '/api/rooms/public',
    { ...auth, schema: { tags, summary: 'Public rooms to browse, most members first; `q` filters by name prefix', querystring: PublicRoomsQuery, response: { 200: PublicRoomsResponse, ...errors } } },
    async (request) => {
      const userId = request.auth!.user.id;
      const rooms = await store.listPublicRooms({ prefix: request.query.q || undefined, limit: request.query.limit ?? 50 });
      const joined = await Promise.all(rooms.map((r) => store.getMember(r.id, userId)));
      return { rooms: rooms.map((r, i) => ({ ...presentRoom(r), joined: joined[i] !== null })) };
    },
  );

  app.post<{ Body: CreateRoomBody }>(
    '/api/rooms',
    { ...auth, schema: { tags, summary: 'Create a channel; the creator is its owner', headers: IdempotencyHeaders, body: CreateRoomBody, response: { 200: RoomResponse, 201: RoomResponse, ...errors } } },
    async (request, reply) => {
      const { room, duplicate } = await conversations.createRoom(actor(request), request.body, key(request));
      reply.status(duplicate ? 200 : 201);
      return roomResponse(request.auth!.user.id, room);
    },
  );

  app.get<{ Params: RoomIdParams }>(
    '/api/rooms/:id',
    { ...auth, schema: { tags, summary: 'A room, with the user\'s own state in it (null when previewing a public room)', params: RoomIdParams, response: { 200: RoomResponse, ...errors } } },
    async (request) => {
      const a = await readable(store, request.auth!.user.id, request.params.id);
      return roomResponse(request.auth!.user.id, a.room);
    },
  );

  app.patch<{ Params: RoomIdParams; Body: UpdateRoomBody }>(
    '/api/rooms/:id',
    {
      ...auth,
      schema: { tags, summary: 'Rename, change the topic, archive or unarchive (owner and admins)', params: RoomIdParams, headers: IdempotencyHeaders, body: UpdateRoomBody, response: { 200: RoomResponse, ...errors } },
    },
    async (request) => {
      const userId = request.auth!.user.id;
      await conversations.updateRoom(actor(request), request.params.id, request.body, key(request));
      return roomResponse(userId, (await readable(store, userId, request.params.id)).room);
    },
  );

  app.patch<{ Params: RoomIdParams; Body: UpdateMembershipBody }>(
    '/api/rooms/:id/membership',
    { ...auth, schema: { tags, summary: 'The user\'s own settings in a room: which messages notify them', params: RoomIdParams, body: UpdateMembershipBody, response: { 200: RoomResponse, ...errors } } },
    async (request, reply) => {
      const userId = request.auth!.user.id;
      // A write and a frame to every socket of the user each time: a script's loop pays as changes do.
      chargeChange(request, reply);
      const room = await conversations.setNotify(userId, request.params.id, request.body.notify);
      return roomResponse(userId, room);
    },
  );

  app.post<{ Params: RoomIdParams }>(
    '/api/rooms/:id/join',
    { ...auth, schema: { tags, summary: 'Join a public room', params: RoomIdParams, headers: IdempotencyHeaders, response: { 200: RoomResponse, ...errors } } },
    async (request) => {
      const userId = request.auth!.user.id;
      await conversations.join(actor(request), request.params.id, key(request));
      return roomResponse(userId, (await readable(store, userId, request.params.id)).room);
    },
  );

  app.post<{ Params: RoomIdParams }>(
    '/api/rooms/:id/leave',
    { ...auth, schema: { tags, summary: 'Leave a room (not general, not a DM)', params: RoomIdParams, headers: IdempotencyHeaders, response: { 200: ChangeResponse, ...errors } } },
    async (request) => change(await conversations.leave(actor(request), request.params.id, key(request))),
  );

  app.get<{ Params: RoomIdParams }>(
    '/api/rooms/:id/members',
    { ...auth, schema: { tags, summary: `The room's members by join time (at most ${MEMBERS_LISTED})`, params: RoomIdParams, response: { 200: MembersResponse, ...errors } } },
    async (request) => {
      const a = await readable(store, request.auth!.user.id, request.params.id);
      // `a.room` was read first: its lastSeq is at most the list's, as the SDK's replay on top needs.
      return { members: (await store.listMembers(a.room.id, MEMBERS_LISTED)).map(presentMember), lastSeq: a.room.lastSeq };
    },
  );

  app.post<{ Params: RoomIdParams; Body: AddMemberBody }>(
    '/api/rooms/:id/members',
    { ...auth, schema: { tags, summary: 'Add a user to a channel (how people get into a private room)', params: RoomIdParams, headers: IdempotencyHeaders, body: AddMemberBody, response: { 200: ChangeResponse, ...errors } } },
    async (request) => change(await conversations.invite(actor(request), request.params.id, request.body.userId, key(request))),
  );

  app.delete<{ Params: MemberParams }>(
    '/api/rooms/:id/members/:userId',
    { ...auth, schema: { tags, summary: 'Remove a member (owner and admins)', params: MemberParams, headers: IdempotencyHeaders, response: { 200: ChangeResponse, ...errors } } },
    async (request) => change(await conversations.remove(actor(request), request.params.id, request.params.userId, key(request))),
  );

  app.patch<{ Params: MemberParams; Body: UpdateMemberBody }>(
    '/api/rooms/:id/members/:userId',
    { ...auth, schema: { tags, summary: 'Make a member an admin, or an admin a member (the owner only)', params: MemberParams, headers: IdempotencyHeaders, body: UpdateMemberBody, response: { 200: ChangeResponse, ...errors } } },
    async (request) => change(await conversations.setRole(actor(request), request.params.id, request.params.userId, request.body.role, key(request))),
  );

  app.post<{ Body: OpenDmBody }>(
    '/api/dms',
    { ...auth, schema: { tags, summary: 'Open the direct message with these people (the same people always get the same one)', headers: IdempotencyHeaders, body: OpenDmBody, response: { 200: RoomResponse, 201: RoomResponse, ...errors } } },
    async (request, reply) => {
      const { room, created } = await conversations.openDm(actor(request), request.body.userIds, key(request));
      reply.status(created ? 201 : 200);
      return roomResponse(request.auth!.user.id, room);
    },
  );

  app.get<{ Querystring: UserSearchQuery }>(
    '/api/users',
    { ...auth, schema: { tags: ['users'], summary: 'Users whose name starts with `q`, shortest first', querystring: UserSearchQuery, response: { 200: UsersResponse, ...errors } } },
    async (request) => ({ users: await conversations.searchUsers(request.auth!.user.id, request.query.q, request.query.limit ?? LIMITS.userSearchMax) }),
  );

  app.get<{ Params: RoomIdParams; Querystring: HistoryQuery }>(
    '/api/rooms/:id/messages',
    {
      ...auth,
      schema: {
        tags,
        summary:
          'A page of history (members, and anyone for a public room). `before` pages back from a sequence (default: the newest); `after` pages forward; `around` is the page around a message (a message link), with `hasNewer`.',
        params: RoomIdParams,
        querystring: HistoryQuery,
        response: { 200: HistoryResponse, ...errors },
      },
    },
    async (request) => {
      const room = request.params.id;
      await readable(store, request.auth!.user.id, room);
      const { before, after, around, limit: asked = 50 } = request.query;
      const limit = Math.min(asked, LIMITS.historyPageMax);
      if (around !== undefined) {
        if (before !== undefined || after !== undefined) throw AppError.validation({ around: 'Not with before or after.' });
        const { older, newer, lastSeq } = await readAround(store, room, around, limit);
        return {
          room,
          messages: [...older.messages, ...newer.messages].map(presentStored),
          hasMore: older.hasMore,
          hasNewer: newer.hasMore,
          lastSeq,
          membership: [...older.membership, ...newer.membership].map(presentReplayed),
        };
      }
      const page = await store.getMessages(room, { before, after, limit });
      return { room, messages: page.messages.map(presentStored), hasMore: page.hasMore, lastSeq: page.lastSeq, membership: page.membership.map(presentReplayed) };
    },
  );

  app.patch<{ Params: MessageParams; Body: EditMessageBody }>(
    '/api/rooms/:id/messages/:messageId',
    { ...auth, schema: { tags, summary: 'Edit one\'s own message', params: MessageParams, headers: IdempotencyHeaders, body: EditMessageBody, response: { 200: MessageResponse, ...errors } } },
    async (request, reply) => {
      chargeChange(request, reply);
      const { id, messageId } = request.params;
      const outcome = await conversations.edit(actor(request), id, messageId, request.body.text, key(request));
      const message = await store.getMessage(id, messageId);
      if (!message) throw new AppError('message_not_found');
      return { message: presentStored(message), seq: outcome.seq, duplicate: outcome.duplicate };
    },
  );

  app.delete<{ Params: MessageParams }>(
    '/api/rooms/:id/messages/:messageId',
    { ...auth, schema: { tags, summary: 'Delete a message: one\'s own, or any as the owner or an admin. Its text is erased.', params: MessageParams, headers: IdempotencyHeaders, response: { 200: ChangeResponse, ...errors } } },
    async (request, reply) => {
      chargeChange(request, reply);
      return change(await conversations.delete(actor(request), request.params.id, request.params.messageId, key(request)));
    },
  );

  for (const method of ['put', 'delete'] as const) {
    app[method]<{ Params: ReactionParams }>(
      '/api/rooms/:id/messages/:messageId/reactions/:emoji',
      {
        ...auth,
        schema: {
          tags,
          summary: method === 'put' ? 'React with an emoji (URL-encoded)' : 'Take one\'s reaction back',
          params: ReactionParams,
          headers: IdempotencyHeaders,
          response: { 200: ChangeResponse, ...errors },
        },
      },
      async (request, reply) => {
        chargeChange(request, reply);
        const { id, messageId, emoji } = request.params;
        return change(await conversations.react(actor(request), id, messageId, emoji, method === 'put', key(request)));
      },
    );
  }

  app.post<{ Params: RoomIdParams; Body: ReadBody }>(
    '/api/rooms/:id/read',
    { ...auth, schema: { tags, summary: 'Move the user\'s read position forward (synced to their other devices)', params: RoomIdParams, body: ReadBody, response: { 200: ReadResponse, ...errors } } },
    async (request) => conversations.markRead(request.auth!.user.id, request.params.id, request.body.seq),
  );
}
