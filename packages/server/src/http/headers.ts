/**
 * Headers every response carries, whatever answers it (a route, the not-found handler, an error
 * handler, or the raw writer for requests too broken to reach Fastify).
 *
 * The policy allows nothing inline and nothing from elsewhere: an injected `<script>` or `style=`
 * does nothing, and the app cannot be framed (clickjacking). `img-src` allows `data:` and `blob:`
 * for the picture preview before an upload. The web app is built to run under exactly this.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The API reference at /docs (Swagger UI) renders under the policy above but sets one inline style
 * (Chromium reports it blocked), so /docs alone also allows inline styles. Scripts stay 'self' only.
 */
export const DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");

const COMMON: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** The headers for a response to `url` (path and query, as in the request line). */
export function securityHeaders(url: string): Record<string, string> {
  const path = url.split('?')[0] ?? '';
  const docs = path === '/docs' || path.startsWith('/docs/');
  const headers: Record<string, string> = { ...COMMON, 'content-security-policy': docs ? DOCS_CONTENT_SECURITY_POLICY : CONTENT_SECURITY_POLICY };
  // API answers carry tokens and personal data: no cache may keep them. Pictures are the exception;
  // their URLs change with their content and they are cached forever (see profile/routes.ts).
  if ((path === '/api' || path.startsWith('/api/')) && !path.startsWith('/api/avatars/')) headers['cache-control'] = 'no-store';
  return headers;
}
