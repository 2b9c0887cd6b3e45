import assert from 'node:assert/strict';
import { test } from 'node:test';
import { presentMyRoom, presentRoom } from '../src/conversations/present.js';
import type { UserRoom } from '../src/storage/types.js';

/*
 * Every `hello` presents each of the user's rooms; a reconnect storm presents tens of thousands, so
 * `presentMyRoom` builds its object directly rather than by spreading `presentRoom` (V8's generic
 * copy measured 12-13x the direct build). Its cost is the bench's business (the many-rooms return);
 * this checks that the direct build still says what the spread said, field for field and in order.
 */

const room: UserRoom['room'] = {
  id: 'room-abcdef',
  kind: 'channel',
  name: 'Room abcdef',
  topic: 'a topic',
  visibility: 'public',
  archived: false,
  lastSeq: 120,
  createdAt: Date.UTC(2030, 0, 1),
  createdBy: 5,
  dmKey: null,
  memberCount: 30,
  lastActivityAt: Date.UTC(2030, 0, 2),
};
const u: UserRoom = { room, member: { roomId: room.id, userId: 5, role: 'member', joinedAt: Date.UTC(2030, 0, 1), readSeq: 30, notify: null }, unread: 60, mentions: 2 };

test('a room of the room list is the room and its member fields, in that order', () => {
  const mine = presentMyRoom(u);
  assert.deepEqual(Object.keys(mine), [...Object.keys(presentRoom(room)), 'role', 'readSeq', 'unread', 'mentions', 'notify', 'lastActivityAt']);
  assert.deepEqual(mine, { ...presentRoom(room), role: 'member', readSeq: 30, unread: 60, mentions: 2, notify: 'mentions', lastActivityAt: '2030-01-02T00:00:00.000Z' });
});
