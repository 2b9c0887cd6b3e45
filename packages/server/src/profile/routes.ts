import fastifyMultipart from '@fastify/multipart';
import { AvatarResponse, ErrorResponse, type UserUpdatedFrame } from '@chatter/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { Throttle } from '../auth/throttle.js';
import { AppError } from '../errors.js';
import type { UserRecord } from '../storage/types.js';
import { publicUser, selfUser } from '../users/present.js';
import { ImageJobs } from './jobs.js';

/** Largest picture accepted, before re-encoding. */
export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;
/** Side of the square WebP every picture is re-encoded to. */
export const AVATAR_SIZE = 256;
/** 16 random bytes in base64url: unguessable, and safe as a file name. */
const KEY_PATTERN = /^[A-Za-z0-9_-]{22}$/;

type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';

// Sharp caches decoded inputs for reuse; avatars are processed once, so the cache would only hold memory.
sharp.cache(false);
// One libvips thread per picture: the number of pictures decoded at once (CHATTER_IMAGE_JOBS) is then
// the number of cores image work can take from the event loop and from bcrypt.
sharp.concurrency(1);

/** The format the bytes say they are, by magic number. The file name and Content-Type are not trusted. */
export function sniffImage(bytes: Buffer): ImageFormat | null {
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.toString('latin1', 0, 6))) return 'gif';
  return null;
}

const tooLarge = () => new AppError('payload_too_large', 'Pictures can be at most 5 MB.');
const unsupported = () => new AppError('unsupported_media_type', 'Upload a PNG, JPEG, WebP or GIF picture.');

/**
 * Bytes per pixel that decoding holds at once, from the header, as measured with libvips 8.18.
 * JPEG and WebP shrink while they decode (libvips reads a 1/8-scale JPEG straight from the DCT: a
 * 40-megapixel photo needs a few MB; a progressive JPEG ~3 bytes a pixel); non-interlaced PNG
 * streams through the resize in strips (~1.5). GIF is decoded whole into RGBA plus its indices
 * (~6), and so is interlaced PNG (each sample, 1 or 2 bytes, plus a quarter).
 */
export function decodeBytesPerPixel(meta: Pick<Metadata, 'format' | 'isProgressive' | 'channels' | 'depth'>): number {
  if (meta.format === 'gif') return 6;
  if (meta.format === 'png' && meta.isProgressive) return 1.25 * (meta.channels ?? 4) * (meta.depth === 'ushort' ? 2 : 1);
  return 3;
}

/** What one decode may hold: a GIF of the most pixels allowed. So a decode costs at most maxPixels x 6 bytes. */
const DECODE_BUDGET_BYTES_PER_PIXEL = 6;

const megapixels = (pixels: number) => (pixels >= 1_000_000 ? `${Math.floor(pixels / 100_000) / 10} megapixels` : `${Math.floor(pixels)} pixels`);

/**
 * Re-encode to a square WebP: crops to the centre, applies the EXIF orientation, drops every byte
 * of metadata (EXIF, GPS, ICC comments) and, for animations, keeps only the first frame.
 *
 * Decoding bombs (a small file that claims 100,000 x 100,000 pixels) are refused from the header,
 * before any pixel is decoded: by pixels, and by the memory their format needs to decode, so that
 * no decode holds more than `maxPixels` x 6 bytes (96 MB at the default 16 megapixels). With at most
 * CHATTER_IMAGE_JOBS decodes at once, that bounds what pictures can take.
 */
async function toAvatar(bytes: Buffer, format: ImageFormat, maxPixels: number): Promise<Buffer> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw AppError.validation({ file: 'That picture is damaged or could not be read.' });
  }
  if (meta.format !== format) throw unsupported();
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > maxPixels) {
    throw AppError.validation({ file: `That picture has too many pixels (at most ${megapixels(maxPixels)}).` });
  }
  const perPixel = decodeBytesPerPixel(meta);
  if (pixels * perPixel > maxPixels * DECODE_BUDGET_BYTES_PER_PIXEL) {
    const most = megapixels((maxPixels * DECODE_BUDGET_BYTES_PER_PIXEL) / perPixel);
    throw AppError.validation({ file: `That picture has too many pixels for an interlaced PNG of its depth (at most ${most}). Save it as JPEG, or as a non-interlaced PNG.` });
  }
  try {
    // resize() lets libvips pick the shrink-on-load factor for JPEG and WebP (fastShrinkOnLoad).
    return await sharp(bytes, { limitInputPixels: maxPixels, animated: false, sequentialRead: true })
      .rotate()
      .resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'cover', position: 'centre', fastShrinkOnLoad: true })
      .webp({ quality: 82, effort: 4 })
      .toBuffer();
  } catch {
    throw AppError.validation({ file: 'That picture is damaged or could not be read.' });
  }
}

/**
 * Profile pictures.
 *
 * PUT /api/me/avatar takes the picture either as the raw request body (any Content-Type, e.g.
 * `curl -T pic.png`) or as a multipart/form-data upload with one file field. Either way the
 * format comes from the bytes. Each upload gets a new random key, so `/api/avatars/<key>` is
 * immutable and cached forever; the previous file is deleted, so an old URL answers 404.
 */
export default async function profileRoutes(app: FastifyInstance): Promise<void> {
  const { avatarMaxPixels, imageJobs, avatarChangesPerHour } = app.config;
  const dir = join(app.config.dataDir, 'avatars');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode applies only to a folder it creates; a folder from an older version is tightened too.
  await chmod(dir, 0o700);

  const jobs = new ImageJobs(imageJobs);
  // Each change is announced to every room, so changes are counted per user, successful or not.
  const changes = new Throttle(avatarChangesPerHour, 3_600_000);
  app.addHook('onClose', async () => changes.close());
  /** The user slot an upload holds from before its body is read until its decode ends. */
  const holds = new WeakMap<FastifyRequest, { release: () => void; decoding: boolean }>();

  function refuse(reply: FastifyReply, code: 'rate_limited' | 'unavailable', message: string, retryAfter: number): never {
    reply.header('Retry-After', String(retryAfter));
    throw new AppError(code, message, { retryAfter });
  }

  function checkChangeRate(reply: FastifyReply, userId: number): void {
    const wait = changes.retryAfter(`user:${userId}`);
    if (wait > 0) refuse(reply, 'rate_limited', `You changed your picture too often. Try again in ${wait} s.`, wait);
  }

  const stillProcessing = 'Your previous picture is still being processed. Try again in a moment.';

  /** onRequest, after authentication: refused uploads are answered before their body is read. */
  async function admitUpload(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const userId = request.auth!.user.id;
    checkChangeRate(reply, userId);
    const release = jobs.reserveUser(userId);
    if (!release) refuse(reply, 'rate_limited', stillProcessing, 1);
    const hold = { release, decoding: false };
    holds.set(request, hold);
    // However the exchange ends (answered, refused, client gone), the slot is freed, except while a
    // decode runs: that decode still holds memory, so it frees the slot itself when it ends.
    reply.raw.once('close', () => {
      if (!hold.decoding) release();
    });
  }

  // Parsers in this plugin apply to its routes only: every body here is a picture, whatever it claims to be.
  app.removeAllContentTypeParsers();
  await app.register(fastifyMultipart, { limits: { fileSize: AVATAR_MAX_BYTES, files: 1, fields: 5, parts: 6 } });
  app.addContentTypeParser('*', (request, payload, done) => {
    const declared = Number(request.headers['content-length']);
    if (declared > AVATAR_MAX_BYTES) return done(tooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (err: Error | null, body?: Buffer) => {
      if (finished) return;
      finished = true;
      done(err, body);
    };
    payload.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > AVATAR_MAX_BYTES) {
        finish(tooLarge());
        payload.resume(); // drain the rest so the 413 can be read by the client
      } else if (!finished) chunks.push(chunk);
    });
    payload.on('end', () => finish(null, Buffer.concat(chunks)));
    payload.on('error', (err) => finish(err));
  });

  async function readUpload(request: FastifyRequest): Promise<Buffer> {
    if (!request.isMultipart()) {
      return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    }
    let file;
    try {
      file = await request.file();
    } catch {
      throw AppError.validation({ file: 'The upload could not be read.' });
    }
    if (!file) throw AppError.validation({ file: 'Choose a picture to upload.' });
    let bytes: Buffer;
    try {
      bytes = await file.toBuffer();
    } catch (err) {
      if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge();
      throw AppError.validation({ file: 'The upload could not be read.' });
    }
    // toBuffer() looks for truncation after each chunk and misses it when the limit falls in the
    // last one, returning the first 5 MB as if they were the whole file; the stream's flag is final.
    if (file.file.truncated) throw tooLarge();
    return bytes;
  }

  async function announce(user: UserRecord): Promise<void> {
    const frame: UserUpdatedFrame = { type: 'user_updated', user: publicUser(user) };
    const serialized = JSON.stringify(frame);
    // Every node refreshes what it holds of the user (presence lists, the author of live messages)...
    app.bus.publish({ kind: 'user_updated', user: frame.user });
    // ...and every room they are in hears of the change.
    for (const { room } of await app.store.listUserRooms(user.id, 0)) app.bus.publish({ kind: 'room', room: room.id, frame: serialized });
  }

  async function removeFile(key: string | null): Promise<void> {
    if (!key) return;
    await unlink(join(dir, `${key}.webp`)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') app.log.warn({ err, key }, 'could not delete an old avatar');
    });
  }

  /**
   * Point the user at `key` (or none), then delete the file it replaces and tell everyone. Nothing
   * is written or announced when nothing changes.
   */
  async function switchAvatar(before: UserRecord, key: string | null): Promise<UserRecord> {
    if (before.avatarKey === key) return before;
    await app.store.setAvatarKey(before.id, key);
    await removeFile(before.avatarKey);
    const user: UserRecord = { ...before, avatarKey: key };
    await announce(user);
    return user;
  }

  async function currentUser(request: FastifyRequest): Promise<UserRecord> {
    const user = await app.store.getUserById(request.auth!.user.id);
    if (!user) throw new AppError('unauthorized');
    return user;
  }

  const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse };

  app.put(
    '/api/me/avatar',
    {
      // Authenticated and admitted before the body is read: a stranger's 5 MB, or a second upload
      // from a user whose first is still in progress, is refused unread.
      onRequest: [app.requireAuth, admitUpload],
      bodyLimit: AVATAR_MAX_BYTES,
      schema: {
        tags: ['profile'],
        summary: 'Upload a profile picture (PNG, JPEG, WebP or GIF, at most 5 MB) as the raw body or multipart/form-data',
        consumes: ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'application/octet-stream', 'multipart/form-data'],
        response: { 200: AvatarResponse, ...errors },
      },
    },
    async (request, reply) => {
      const hold = holds.get(request)!;
      const bytes = await readUpload(request);
      if (bytes.length === 0) throw AppError.validation({ file: 'Choose a picture to upload.' });
      const format = sniffImage(bytes);
      if (!format) throw unsupported();
      const userId = request.auth!.user.id;
      hold.decoding = true;
      let decoded;
      try {
        decoded = await jobs.run(() => {
          changes.hit(`user:${userId}`);
          return toAvatar(bytes, format, avatarMaxPixels);
        });
      } finally {
        hold.decoding = false;
        hold.release();
      }
      if (decoded.busy) refuse(reply, 'unavailable', 'Too many pictures are being processed right now. Try again in a moment.', 1);
      const key = randomBytes(16).toString('base64url');
      const tmp = join(dir, `${key}.tmp`);
      // Written under a temporary name and renamed, so a half-written file is never served.
      await writeFile(tmp, decoded.value, { mode: 0o600 });
      await rename(tmp, join(dir, `${key}.webp`));
      const user = await switchAvatar(await currentUser(request), key);
      request.log.info({ userId: user.id, from: format, bytes: bytes.length }, 'avatar updated');
      return { user: selfUser(user) };
    },
  );

  app.delete(
    '/api/me/avatar',
    {
      onRequest: app.requireAuth,
      schema: {
        tags: ['profile'],
        summary: 'Remove the profile picture (a no-op, not counted, when there is none)',
        response: { 200: AvatarResponse, 401: ErrorResponse, 403: ErrorResponse, 429: ErrorResponse },
      },
    },
    async (request, reply) => {
      const before = await currentUser(request);
      if (before.avatarKey === null) return { user: selfUser(before) };
      checkChangeRate(reply, before.id);
      // Serialised with the user's uploads, so an upload finishing meanwhile is not undone unseen.
      const release = jobs.reserveUser(before.id);
      if (!release) refuse(reply, 'rate_limited', stillProcessing, 1);
      try {
        changes.hit(`user:${before.id}`);
        return { user: selfUser(await switchAvatar(await currentUser(request), null)) };
      } finally {
        release();
      }
    },
  );

  app.get<{ Params: { key: string } }>(
    '/api/avatars/:key',
    { schema: { tags: ['profile'], summary: 'A profile picture (256x256 WebP); immutable, cache forever', security: [] } },
    async (request, reply) => {
      const { key } = request.params;
      if (!KEY_PATTERN.test(key)) throw new AppError('not_found', 'No such picture.');
      let bytes: Buffer;
      try {
        bytes = await readFile(join(dir, `${key}.webp`));
      } catch {
        throw new AppError('not_found', 'No such picture.');
      }
      return reply
        .type('image/webp')
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'")
        .send(bytes);
    },
  );
}
