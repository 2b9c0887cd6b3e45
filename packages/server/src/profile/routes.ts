import fastifyMultipart from '@fastify/multipart';
import { AvatarResponse, ErrorResponse, type UserUpdatedFrame } from '@chatter/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { AppError } from '../errors.js';
import type { UserRecord } from '../storage/types.js';
import { publicUser, selfUser } from '../users/present.js';

/** Largest picture accepted, before re-encoding. */
export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;
/** Side of the square WebP every picture is re-encoded to. */
export const AVATAR_SIZE = 256;
/** Decoding bombs (a tiny file that claims 100,000 x 100,000 pixels) are refused before decoding. */
const MAX_INPUT_PIXELS = 40_000_000;
/** 16 random bytes in base64url: unguessable, and safe as a file name. */
const KEY_PATTERN = /^[A-Za-z0-9_-]{22}$/;

type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';

// Sharp caches decoded inputs for reuse; avatars are processed once, so the cache would only hold memory.
sharp.cache(false);

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
 * Re-encode to a square WebP: crops to the centre, applies the EXIF orientation, drops every byte
 * of metadata (EXIF, GPS, ICC comments) and, for animations, keeps only the first frame.
 */
async function toAvatar(bytes: Buffer, format: ImageFormat): Promise<Buffer> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw AppError.validation({ file: 'That picture is damaged or could not be read.' });
  }
  if (meta.format !== format) throw unsupported();
  if ((meta.width ?? 0) * (meta.height ?? 0) > MAX_INPUT_PIXELS) {
    throw AppError.validation({ file: 'That picture has too many pixels (at most 40 megapixels).' });
  }
  try {
    return await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, animated: false })
      .rotate()
      .resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'cover', position: 'centre' })
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
  const dir = join(app.config.dataDir, 'avatars');
  await mkdir(dir, { recursive: true });

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
    // ...and every room hears of the change.
    for (const room of await app.store.listRooms()) app.bus.publish({ kind: 'room', room: room.id, frame: serialized });
  }

  async function removeFile(key: string | null): Promise<void> {
    if (!key) return;
    await unlink(join(dir, `${key}.webp`)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') app.log.warn({ err, key }, 'could not delete an old avatar');
    });
  }

  /** Point the user at `key` (or none), then delete the file it replaces and tell everyone. */
  async function switchAvatar(userId: number, key: string | null): Promise<UserRecord> {
    const before = await app.store.getUserById(userId);
    if (!before) throw new AppError('unauthorized');
    await app.store.setAvatarKey(userId, key);
    if (before.avatarKey !== key) await removeFile(before.avatarKey);
    const user: UserRecord = { ...before, avatarKey: key };
    await announce(user);
    return user;
  }

  const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse };

  app.put(
    '/api/me/avatar',
    {
      // Authenticated before the body is read: a stranger's 5 MB is refused unread.
      onRequest: app.requireAuth,
      bodyLimit: AVATAR_MAX_BYTES,
      schema: {
        tags: ['profile'],
        summary: 'Upload a profile picture (PNG, JPEG, WebP or GIF, at most 5 MB) as the raw body or multipart/form-data',
        consumes: ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'application/octet-stream', 'multipart/form-data'],
        response: { 200: AvatarResponse, ...errors },
      },
    },
    async (request) => {
      const bytes = await readUpload(request);
      if (bytes.length === 0) throw AppError.validation({ file: 'Choose a picture to upload.' });
      const format = sniffImage(bytes);
      if (!format) throw unsupported();
      const webp = await toAvatar(bytes, format);
      const key = randomBytes(16).toString('base64url');
      const tmp = join(dir, `${key}.tmp`);
      // Written under a temporary name and renamed, so a half-written file is never served.
      await writeFile(tmp, webp);
      await rename(tmp, join(dir, `${key}.webp`));
      const user = await switchAvatar(request.auth!.user.id, key);
      request.log.info({ userId: user.id, from: format, bytes: bytes.length }, 'avatar updated');
      return { user: selfUser(user) };
    },
  );

  app.delete(
    '/api/me/avatar',
    {
      onRequest: app.requireAuth,
      schema: { tags: ['profile'], summary: 'Remove the profile picture', response: { 200: AvatarResponse, 401: ErrorResponse, 403: ErrorResponse } },
    },
    async (request) => {
      const user = await switchAvatar(request.auth!.user.id, null);
      return { user: selfUser(user) };
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
