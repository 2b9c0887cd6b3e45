import bcrypt from 'bcrypt';
import { createHash } from 'node:crypto';

/*
 * bcrypt reads at most 72 bytes of its input and silently ignores the rest, so two long passwords
 * sharing a 72-byte prefix would be equal. Instead of truncating (or rejecting valid 128-character
 * passwords), every password is first reduced to base64(SHA-256(NFC(password))): 44 bytes that
 * depend on every character. bcrypt itself runs on libuv's thread pool, off the event loop.
 */
function prehash(password: string): string {
  return createHash('sha256').update(password.normalize('NFC'), 'utf8').digest('base64');
}

export function hashPassword(password: string, cost: number): Promise<string> {
  return bcrypt.hash(prehash(password), cost);
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(prehash(password), hash);
}
