import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PasswordHasher } from '../src/auth/passwords.js';

/*
 * Shutting down while bcrypt runs. Terminating a worker thread inside bcrypt's native call aborts
 * the whole process ("terminate called after throwing an instance of 'Napi::Error'"), which once
 * took a CI run down with it. If this file's process survives, the hasher closed its threads safely.
 */
test('close() while hashes are running lets them finish or fail, never aborts the process', async () => {
  for (let round = 0; round < 5; round++) {
    const hasher = new PasswordHasher({ workers: 2 });
    // Two running (one per thread) and one waiting, at a cost that takes a while.
    const jobs = [hasher.hash('a password', 12), hasher.hash('another one', 12), hasher.verify('x', '$2b$04$abcdefghijklmnopqrstuu')];
    const settled = Promise.allSettled(jobs);
    await new Promise((r) => setTimeout(r, 20 * round)); // close at different points of the hashes
    await hasher.close();
    const results = await settled;
    // The waiting job is refused; each running one either finished or failed, but answered.
    assert.equal(results.length, 3);
    assert.equal(results[2]!.status, 'rejected');
    await assert.rejects(hasher.hash('after close', 4), /closed/);
  }
});

test('a hash still running when close() stops waiting is failed, not left pending, and its thread ends by itself', async () => {
  const hasher = new PasswordHasher({ workers: 1 });
  // Cost 15 takes seconds; close gives up waiting after 1 ms, long before the hash ends.
  const job = hasher.hash('slow', 15);
  await hasher.close(1);
  await assert.rejects(job, /closed/);
  // The thread was not terminated inside bcrypt (that aborts the process): it finishes and exits.
  await hasher.stopped();
});
