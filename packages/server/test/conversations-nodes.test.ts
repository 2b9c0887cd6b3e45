import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InProcessBus } from '../src/bus/memory.js';
import { startTestServer, type TestServer } from '../src/testing.js';
import { call } from './http-helpers.js';
import { connect, uniqueName } from './wsclient.js';

/*
 * Two servers on one database and one bus, as two nodes behind a load balancer: a membership change
 * made on one node moves the user's sockets on the other at once, and frames for one user reach
 * their sockets wherever they are.
 */
describe('membership across nodes', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatter-nodes-'));
  const bus = new InProcessBus();
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    a = await startTestServer({ dataDir, dbFile: join(dataDir, 'chatter.db') }, { bus });
    b = await startTestServer({ dataDir, dbFile: join(dataDir, 'chatter.db') }, { bus });
  });
  after(async () => {
    await b.close();
    await a.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('invited on node A, the socket on node B joins; removed on A, it stops receiving on B; read_state crosses too', async () => {
    const owner = await a.register(uniqueName('owner'));
    const guest = await a.register(uniqueName('guest'));
    const witness = await a.register(uniqueName('witness'));
    const room = (await call(a.url, 'POST', '/api/rooms', { token: owner.token, json: { name: 'x-node', visibility: 'private' } })).body.room.id as string;
    await call(a.url, 'POST', `/api/rooms/${room}/members`, { token: owner.token, json: { userId: witness.user.id } });
    const onB = connect(b.wsUrl, { token: guest.token, params: { history: '0' } });
    const witnessOnB = connect(b.wsUrl, { token: witness.token, params: { history: '0' } });
    const ownerOnA = connect(a.wsUrl, { token: owner.token, params: { history: '0' } });
    await Promise.all([onB.next('hello'), witnessOnB.next('hello'), ownerOnA.next('hello')]);

    assert.equal((await call(a.url, 'POST', `/api/rooms/${room}/members`, { token: owner.token, json: { userId: guest.user.id } })).status, 200);
    await onB.next('room_joined', (f) => f.room.id === room);
    ownerOnA.send({ type: 'send', room, clientId: 'x1', text: 'across nodes' });
    await onB.nextMessage((m) => m.text === 'across nodes');

    const read = await call(a.url, 'POST', `/api/rooms/${room}/read`, { token: guest.token, json: { seq: 1 } });
    assert.equal(read.status, 200);
    await onB.next('read_state', (f) => f.room === room);

    assert.equal((await call(a.url, 'DELETE', `/api/rooms/${room}/members/${guest.user.id}`, { token: owner.token })).status, 200);
    assert.equal((await onB.next('room_left', (f) => f.room === room)).reason, 'removed');
    ownerOnA.send({ type: 'send', room, clientId: 'x2', text: 'after the removal' });
    // The witness shares node B with the removed guest: once it has the message, the guest would too.
    await witnessOnB.nextMessage((m) => m.text === 'after the removal');
    assert.deepEqual(onB.messages().map((m) => m.text), ['across nodes']);
    await Promise.all([onB.close(), witnessOnB.close(), ownerOnA.close()]);
  });
  test('removed on node A, the next send on node B is refused as by A, though B remembered the member', async () => {
    const owner = await a.register(uniqueName('owner'));
    const guest = await a.register(uniqueName('guest'));
    const room = (await call(a.url, 'POST', '/api/rooms', { token: owner.token, json: { name: 'x-node-access', visibility: 'private' } })).body.room.id as string;
    assert.equal((await call(a.url, 'POST', `/api/rooms/${room}/members`, { token: owner.token, json: { userId: guest.user.id } })).status, 200);
    const onB = connect(b.wsUrl, { token: guest.token, params: { history: '0' } });
    await onB.next('hello');
    onB.send({ type: 'send', room, clientId: 'g1', text: 'from B' });
    await onB.next('ack', (f) => f.clientId === 'g1');

    assert.equal((await call(a.url, 'DELETE', `/api/rooms/${room}/members/${guest.user.id}`, { token: owner.token })).status, 200);
    onB.send({ type: 'send', room, clientId: 'g2', text: 'after the removal' });
    assert.equal((await onB.next('error', (e) => e.ref === 'g2')).code, 'room_not_found');
    await onB.close();
  });
});
