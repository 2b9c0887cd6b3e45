import type { FastifyServerOptions } from 'fastify';

/**
 * Structured logs with pino. Secrets never reach them: auth headers and cookies are redacted, and
 * query strings are stripped of `token` (the seed API's `?token=` would otherwise leak there).
 */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.token', '*.newPassword', '*.currentPassword'],
      censor: '[redacted]',
    },
    serializers: {
      req(req: { method: string; url: string; ip?: string }) {
        return { method: req.method, url: redactUrl(req.url), ip: req.ip };
      },
    },
  };
}

export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}

/**
 * The one human line `npm start` prints on a terminal, e.g. "Chatter is running at
 * http://127.0.0.1:8000 — data in /srv/chatter/data (Ctrl-C to stop)". A wildcard host is not an
 * address a browser can open, so the line names the local one and says it listens on all.
 */
export function startBanner(host: string, port: number, dataDir: string): string {
  const wildcard = host === '0.0.0.0' || host === '::';
  const shownHost = wildcard ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `Chatter is running at http://${shownHost}:${port}${wildcard ? ' (listening on all interfaces)' : ''} — data in ${dataDir} (Ctrl-C to stop)`;
}
