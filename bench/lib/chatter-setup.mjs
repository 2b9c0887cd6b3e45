// Chatter set-up that is not measured: registering the bench users over REST.

export const BENCH_PASSWORD = 'bench-password-1';

/** A JSON POST, with a bearer token when given: {status, json}; retried (after Retry-After) on 429. */
async function post(url, body, token) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body ?? {}),
    });
    if (res.status === 429 && attempt < 20) {
      const wait = Number(res.headers.get('retry-after') ?? '1');
      await new Promise((r) => setTimeout(r, Math.max(100, wait * 1000)));
      continue;
    }
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = { raw: text };
    }
    return { status: res.status, json };
  }
}

/**
 * Register `count` users named `${prefix}${i}` with session "token"; returns [{username, id, token}]
 * in index order. Runs `concurrency` requests at a time.
 */
export async function registerUsers(baseUrl, count, { prefix = 'bench_u', concurrency = 16, from = 0, onProgress } = {}) {
  const users = new Array(count);
  let next = 0;
  let done = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      const username = `${prefix}${from + i}`;
      const { status, json } = await post(`${baseUrl}/api/register`, { username, password: BENCH_PASSWORD, session: 'token' });
      if (status !== 201 || !json.token) throw new Error(`register ${username}: HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
      users[i] = { username, id: json.user.id, token: json.token };
      done++;
      if (onProgress && done % 1000 === 0) onProgress(done);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return users;
}

export async function login(baseUrl, username, password = BENCH_PASSWORD) {
  return post(`${baseUrl}/api/login`, { username, password, session: 'token' });
}

/** An authenticated JSON POST (set-up through the real API): {status, json}; retried on 429. */
export function apiPost(baseUrl, path, token, body) {
  return post(`${baseUrl}${path}`, body, token);
}

/** Run `task(i)` for i in [0, count) with at most `concurrency` at a time. */
export async function inParallel(count, concurrency, task) {
  let next = 0;
  async function worker() {
    while (next < count) await task(next++);
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
