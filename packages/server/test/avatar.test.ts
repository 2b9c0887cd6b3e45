import { decodeServerMessage, type ServerFrame } from '@chatter/protocol';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import WebSocket from 'ws';
import { startTestServer, type TestServer, type TestUser } from '../src/testing.js';
import { connect } from './wsclient.js';

/*
 * Profile pictures: PUT/DELETE /api/me/avatar and GET /api/avatars/:key, against a real server.
 * Decision under test: every upload gets a new key and the previous file is deleted, so an old
 * URL answers 404 (a removed picture is really gone) and a current URL can be cached forever.
 */

const MB = 1024 * 1024;

function picture(format: 'png' | 'jpeg' | 'webp' | 'gif', width = 400, height = 300): Promise<Buffer> {
  const img = sharp({ create: { width, height, channels: 3, background: { r: 200, g: 60, b: 90 } } });
  return img.toFormat(format).toBuffer();
}

describe('profile pictures', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    // This suite changes alice's picture dozens of times; the hourly limit has its own suite below.
    server = await startTestServer({ avatarChangesPerHour: 1000 });
    alice = await server.register('alice');
    bob = await server.register('bob');
  });
  after(() => server.close());

  const put = (body: NonNullable<RequestInit["body"]>, headers: Record<string, string> = {}, token: string | null = alice.token) =>
    fetch(`${server.url}/api/me/avatar`, {
      method: 'PUT',
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...headers },
      body,
    });

  async function expectError(res: Response, status: number, code: string): Promise<{ message: string; details?: { fields?: Record<string, string> } }> {
    const body = (await res.json()) as { error: { code: string; message: string; details?: { fields?: Record<string, string> } } };
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(body.error.code, code);
    assert.equal(typeof body.error.message, 'string');
    return body.error;
  }

  async function avatarUrlOf(res: Response): Promise<string> {
    const body = (await res.json()) as { user: { avatarUrl: string | null; username: string } };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.match(body.user.avatarUrl ?? '', /^\/api\/avatars\/[A-Za-z0-9_-]{22}$/);
    return body.user.avatarUrl!;
  }

  for (const format of ['png', 'jpeg', 'webp', 'gif'] as const) {
    test(`accepts ${format} and serves it as a 256 px square WebP, cached forever`, async () => {
      const url = await avatarUrlOf(await put(await picture(format), { 'content-type': `image/${format}` }));
      const res = await fetch(server.url + url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/webp');
      assert.match(res.headers.get('cache-control') ?? '', /immutable/);
      assert.match(res.headers.get('cache-control') ?? '', /max-age=31536000/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      assert.equal(meta.format, 'webp');
      assert.equal(meta.width, 256);
      assert.equal(meta.height, 256);
    });
  }

  test('the format comes from the bytes, not the declared type', async () => {
    // A JPEG labelled as PNG is still a JPEG and is accepted; the label is ignored.
    await avatarUrlOf(await put(await picture('jpeg'), { 'content-type': 'image/png' }));
    await avatarUrlOf(await put(await picture('png'), { 'content-type': 'application/octet-stream' }));
  });

  test('strips metadata: EXIF (camera, GPS) never survives re-encoding', async () => {
    const withExif = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#336699' } })
      .jpeg()
      .withExif({ IFD0: { Make: 'SecretCam', Artist: 'Alice Home Address' } })
      .toBuffer();
    assert.ok((await sharp(withExif).metadata()).exif, 'fixture has EXIF');
    const url = await avatarUrlOf(await put(withExif));
    const stored = Buffer.from(await (await fetch(server.url + url)).arrayBuffer());
    const meta = await sharp(stored).metadata();
    assert.equal(meta.exif, undefined);
    assert.equal(stored.includes(Buffer.from('SecretCam')), false);
  });

  test('bad bytes named .png in a multipart upload: 415', async () => {
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('<?php system($_GET["c"]); ?> not a picture at all')], { type: 'image/png' }), 'avatar.png');
    await expectError(await put(form), 415, 'unsupported_media_type');
  });

  test('multipart upload of a real picture works', async () => {
    const form = new FormData();
    form.append('file', new Blob([await picture('png')], { type: 'image/png' }), 'me.png');
    await avatarUrlOf(await put(form));
  });

  test('SVG (scriptable) and plain text are refused: 415', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>';
    await expectError(await put(svg, { 'content-type': 'image/svg+xml' }), 415, 'unsupported_media_type');
    await expectError(await put('hello', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
    await expectError(await put(JSON.stringify({ a: 1 }), { 'content-type': 'application/json' }), 415, 'unsupported_media_type');
  });

  test('a damaged picture with a valid signature: 400 validation_failed on field "file"', async () => {
    const png = await picture('png');
    const err = await expectError(await put(png.subarray(0, 40)), 400, 'validation_failed');
    assert.ok(err.details?.fields?.file);
  });

  test('an empty body: 400 validation_failed', async () => {
    const err = await expectError(await put(new Uint8Array(0), { 'content-type': 'image/png' }), 400, 'validation_failed');
    assert.equal(err.details?.fields?.file, 'Choose a picture to upload.');
  });

  test('more than 5 MB: 413, raw or multipart', async () => {
    const big = Buffer.alloc(5 * MB + 1, 0);
    (await picture('png')).copy(big); // a real PNG signature at the front: size is checked first
    await expectError(await put(big, { 'content-type': 'image/png' }), 413, 'payload_too_large');
    // Several times: the multipart reader used to miss the overflow when it fell in the last chunk.
    for (let i = 0; i < 5; i++) {
      const form = new FormData();
      form.append('file', new Blob([big], { type: 'image/png' }), 'big.png');
      await expectError(await put(form), 413, 'payload_too_large');
    }
  });

  test('exactly 5 MB is within the limit (a large real picture)', async () => {
    // Random noise does not compress, so this PNG is large; pad to exactly 5 MB after the IEND chunk.
    const noise = await sharp(Buffer.from(Array.from({ length: 700 * 700 * 3 }, () => Math.floor(Math.random() * 256))), {
      raw: { width: 700, height: 700, channels: 3 },
    })
      .png({ compressionLevel: 0 })
      .toBuffer();
    assert.ok(noise.length < 5 * MB);
    const exact = Buffer.concat([noise, Buffer.alloc(5 * MB - noise.length)]);
    await avatarUrlOf(await put(exact, { 'content-type': 'image/png' }));
  });

  test('needs a session; cookie-authenticated uploads need our Origin', async () => {
    await expectError(await put(await picture('png'), {}, null), 401, 'unauthorized');
    const login = await fetch(`${server.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: server.url },
      body: JSON.stringify({ username: 'bob', password: bob.password, session: 'cookie' }),
    });
    // A sign-in sets the device cookie too; the session cookie is the one that authenticates.
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith('chatter_session='))!.split(';')[0]!;
    await expectError(await put(await picture('png'), { cookie, origin: 'https://evil.example' }, null), 403, 'forbidden_origin');
    await avatarUrlOf(await put(await picture('png'), { cookie, origin: server.url }, null));
  });

  test('each upload changes the URL; the old one answers 404; /api/me follows', async () => {
    const first = await avatarUrlOf(await put(await picture('png')));
    const second = await avatarUrlOf(await put(await picture('webp')));
    assert.notEqual(first, second);
    await expectError(await fetch(server.url + first), 404, 'not_found');
    assert.equal((await fetch(server.url + second)).status, 200);
    const me = (await (await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${alice.token}` } })).json()) as { user: { avatarUrl: string } };
    assert.equal(me.user.avatarUrl, second);
  });

  test('DELETE removes the picture and its file', async () => {
    const url = await avatarUrlOf(await put(await picture('gif')));
    const res = await fetch(`${server.url}/api/me/avatar`, { method: 'DELETE', headers: { authorization: `Bearer ${alice.token}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { user: { avatarUrl: string | null } };
    assert.equal(body.user.avatarUrl, null);
    await expectError(await fetch(server.url + url), 404, 'not_found');
  });

  test('unknown or malformed keys answer a JSON 404, never a file outside the folder', async () => {
    for (const key of ['AAAAAAAAAAAAAAAAAAAAAA', '..%2F..%2Fchatter.db', '..%2Fchatter', 'x'.repeat(60)]) {
      await expectError(await fetch(`${server.url}/api/avatars/${key}`), 404, 'not_found');
    }
  });

  test('others see the change live: a user_updated frame in general', async () => {
    const ws = new WebSocket(`${server.wsUrl}?history=0`, { headers: { authorization: `Bearer ${bob.token}` } });
    const frames: ServerFrame[] = [];
    let onFrame: () => void = () => {};
    ws.on('message', (data) => {
      frames.push(...decodeServerMessage(data.toString()));
      onFrame();
    });
    const waitFor = (pred: (f: ServerFrame) => boolean) =>
      new Promise<ServerFrame>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; saw ${frames.map((f) => f.type).join(',')}`)), 5000);
        const check = () => {
          const hit = frames.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          }
        };
        onFrame = check;
        check();
      });
    try {
      await waitFor((f) => f.type === 'hello');
      const url = await avatarUrlOf(await put(await picture('png')));
      const frame = await waitFor((f) => f.type === 'user_updated' && f.user.avatarUrl === url);
      assert.equal(frame.type, 'user_updated');
      if (frame.type === 'user_updated') {
        assert.equal(frame.user.id, alice.user.id);
        assert.equal(frame.user.username, 'alice');
        assert.deepEqual(Object.keys(frame.user).sort(), ['avatarUrl', 'id', 'username']);
      }
    } finally {
      ws.close();
    }
  });

  test('after a change, live messages and later presence lists carry the new picture', async () => {
    const a = connect(server.wsUrl, { token: alice.token, params: { history: '0' } });
    const b = connect(server.wsUrl, { token: bob.token, params: { history: '0' } });
    await Promise.all([a.next('hello'), b.next('hello')]);
    const url = await avatarUrlOf(await put(await picture('png'), { 'content-type': 'image/png' }));
    await b.next('user_updated', (f) => f.user.avatarUrl === url);
    a.send({ type: 'send', room: 'general', clientId: `pic-${Date.now()}`, text: 'new look' });
    const live = await b.nextMessage((f) => f.text === 'new look');
    assert.equal(live.author.avatarUrl, url, 'the open socket sends with the new picture');
    const later = connect(server.wsUrl, { token: bob.token, params: { history: '0' } });
    const presence = await later.next('presence');
    assert.equal(presence.users.find((u) => u.id === alice.user.id)?.avatarUrl, url, 'presence lists the new picture');
    await Promise.all([a.close(), b.close(), later.close()]);
  });
});

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { user?: { avatarUrl: string | null }; error?: { code: string; message: string; details?: { retryAfter?: number; fields?: Record<string, string> } } };
}

async function upload(server: TestServer, user: TestUser, body: Buffer): Promise<Answer> {
  const res = await fetch(`${server.url}/api/me/avatar`, { method: 'PUT', headers: { authorization: `Bearer ${user.token}` }, body });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Answer['body'] };
}

async function removeAvatar(server: TestServer, user: TestUser): Promise<Answer> {
  const res = await fetch(`${server.url}/api/me/avatar`, { method: 'DELETE', headers: { authorization: `Bearer ${user.token}` } });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Answer['body'] };
}

function assertRetry(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.error?.code, code);
  const seconds = Number(answer.retryAfter);
  assert.ok(Number.isInteger(seconds) && seconds >= 1, `Retry-After: ${answer.retryAfter}`);
  assert.equal(answer.body.error?.details?.retryAfter, seconds, 'details.retryAfter matches the header');
}

describe('profile pictures: limits', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ avatarChangesPerHour: 3, avatarMaxPixels: 4_000_000 });
  });
  after(() => server.close());

  test('the avatars folder is private (0700)', () => {
    assert.equal(statSync(join(server.dataDir, 'avatars')).mode & 0o777, 0o700);
  });

  test('more pixels than CHATTER_AVATAR_MAX_PIXELS: 400 naming the limit', async () => {
    const user = await server.register('pixels');
    const answer = await upload(server, user, await picture('png', 2001, 2000));
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error?.code, 'validation_failed');
    assert.match(answer.body.error?.details?.fields?.file ?? '', /at most 4 megapixels/);
    assert.equal((await upload(server, user, await picture('png', 2000, 2000))).status, 200);
  });

  test('an interlaced 16-bit PNG needs 10 bytes a pixel to decode: refused at fewer pixels, with a way out', async () => {
    const user = await server.register('interlaced');
    const png = (depth: 'rgb16' | 'srgb') =>
      sharp({ create: { width: 2000, height: 2000, channels: 4, background: { r: 9, g: 99, b: 199, alpha: 0.5 } } })
        .toColourspace(depth)
        .png({ progressive: true })
        .toBuffer();
    const deep = await upload(server, user, await png('rgb16'));
    assert.equal(deep.status, 400, JSON.stringify(deep.body));
    assert.match(deep.body.error?.details?.fields?.file ?? '', /interlaced PNG .*at most 2\.4 megapixels.*non-interlaced/);
    // The same pixels at 8 bits (5 bytes a pixel) fit the budget of a GIF at the pixel limit.
    assert.equal((await upload(server, user, await png('srgb'))).status, 200);
  });

  test('a second upload while the first is being processed: 429 with Retry-After, unread', async () => {
    const user = await server.register('twice');
    // The most pixels this server allows, as a GIF, which is decoded whole: the first takes long
    // enough that the second, sent at the same moment, arrives while it is in progress.
    const gif = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#2a6' } }).gif().toBuffer();
    const answers = await Promise.all([upload(server, user, gif), upload(server, user, gif)]);
    const refused = answers.filter((a) => a.status === 429);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 429], JSON.stringify(answers.map((a) => a.body)));
    assertRetry(refused[0]!, 429, 'rate_limited');
    // Once the first is done, the user may upload again.
    assert.equal((await upload(server, user, gif)).status, 200);
  });

  test('changes are limited per user per hour: 429 with Retry-After; other users are not affected', async () => {
    const carol = await server.register('carol');
    const dave = await server.register('dave');
    for (let i = 0; i < 3; i++) assert.equal((await upload(server, carol, await picture('png'))).status, 200, `change ${i + 1}`);
    const refused = await upload(server, carol, await picture('png'));
    assertRetry(refused, 429, 'rate_limited');
    assert.ok(Number(refused.retryAfter) <= 3600);
    // A removal is a change too, and is refused the same way.
    assertRetry(await removeAvatar(server, carol), 429, 'rate_limited');
    assert.equal((await upload(server, dave, await picture('png'))).status, 200);
  });

  test('removing a picture the user does not have changes nothing: same answer, no user_updated, not counted', async () => {
    const erin = await server.register('erin');
    const watcher = await server.register('watcher');
    const ws = connect(server.wsUrl, { token: watcher.token, params: { history: '0' } });
    await ws.next('hello');
    for (let i = 0; i < 5; i++) {
      const answer = await removeAvatar(server, erin);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.user?.avatarUrl, null);
    }
    // The marker: a real change. The first user_updated about erin must be this one, not a removal.
    const uploaded = await upload(server, erin, await picture('png'));
    assert.equal(uploaded.status, 200, 'five no-op removals did not use up the three changes an hour');
    const frame = await ws.next('user_updated', (f) => f.user.id === erin.user.id);
    assert.equal(frame.user.avatarUrl, uploaded.body.user?.avatarUrl);
    await ws.close();
  });
});
