import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { DEFAULT_ROOM, ErrorResponse, HealthResponse, PROTOCOL_VERSION } from '@chatter/protocol';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import authRoutes, { SESSION_COOKIE } from './auth/routes.js';
import { SessionService, type Authenticated } from './auth/sessions.js';
import { InProcessBus } from './bus/memory.js';
import type { FanoutBus } from './bus/types.js';
import type { Config } from './config.js';
import { AppError } from './errors.js';
import { proxyTrust } from './http/client-ip.js';
import { clientErrorHandler, frameworkErrors, mapFrameworkError } from './http/errors.js';
import { securityHeaders } from './http/headers.js';
import { isAllowedOrigin } from './http/origin.js';
import { validatorCompiler } from './http/validation.js';
import { loggerOptions } from './logger.js';
import { Conversations } from './conversations/actions.js';
import conversationRoutes from './conversations/routes.js';
import { EventFrames } from './realtime/event-frames.js';
import { Gateway } from './realtime/gateway.js';
import { SqliteStore } from './storage/sqlite.js';
import type { ChatStore } from './storage/types.js';

export const VERSION = '0.1.0';

/** Longest part of an unknown path a 404 quotes back. */
const MAX_ECHOED_PATH = 100;

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    store: ChatStore;
    bus: FanoutBus;
    sessions: SessionService;
    /** The actions layer: every change to a room, its events and their recipients. */
    conversations: Conversations;
    gateway: Gateway;
    /** The rooms' recent log, serialized once for every replay (realtime/event-frames.ts). */
    eventFrames: EventFrames;
    /** preHandler: sets `request.auth` or answers 401. Cookie-authenticated writes must pass the Origin check. */
    requireAuth: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** Throws forbidden_origin unless the request's Origin is this server's or an allowed one. */
    checkOrigin: (request: FastifyRequest) => void;
  }
  interface FastifyRequest {
    auth?: Authenticated & { via: 'bearer' | 'cookie' };
  }
}

export interface AppDeps {
  /** Defaults to SQLite at config.dbFile. */
  store?: ChatStore;
  /** Defaults to the in-process bus. */
  bus?: FanoutBus;
}

/** Build the app without listening, so tests can drive it with inject() or listen on port 0. */
export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config.logLevel),
    // A function, not the setting itself: Fastify reads a bare number as "trust nobody", and this
    // way request.ip and clientIp() cannot disagree.
    trustProxy: proxyTrust(config.trustProxy),
    // Routes that take more (the picture upload) set their own limit.
    bodyLimit: config.bodyLimitBytes,
    // The longest id any route takes is a room id (64 characters); longer is refused before routing.
    routerOptions: { maxParamLength: 100 },
    frameworkErrors,
    clientErrorHandler,
    // One line per request is noise at info level; debug shows them.
    logController: new LogController({ disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace' }),
    ajv: { customOptions: { strict: false } },
  });
  // The API speaks JSON only. Fastify's default text/plain parser would hand a JSON body sent as
  // text/plain (fetch's default for a string body) to validation, which then reports a confusing
  // "Expected a JSON object"; without it the client gets 415 "Send JSON".
  app.removeContentTypeParser('text/plain');

  const store = deps.store ?? new SqliteStore({ file: config.dbFile, synchronous: config.sqliteSynchronous });
  await store.migrate();
  await store.ensureRoom({ id: DEFAULT_ROOM, name: 'general', createdAt: Date.now() });
  const bus = deps.bus ?? new InProcessBus();
  app.decorate('config', config);
  app.decorate('store', store);
  app.decorate('bus', bus);
  app.decorate('sessions', new SessionService(store, bus, config.sessionTtlMs, config.sessionMaxAgeMs));
  const conversations = new Conversations(store, bus, app.log, config);
  app.decorate('conversations', conversations);
  const eventFrames = new EventFrames(store, { maxBytes: config.replayCacheBytes, bus });
  app.decorate('eventFrames', eventFrames);

  // Every body, query and param is checked by our own compiled validators, so failures carry
  // one sentence per field (see @chatter/protocol/validate) instead of raw JSON-schema output.
  app.setValidatorCompiler(validatorCompiler);

  app.addHook('onRequest', async (request, reply) => {
    reply.headers(securityHeaders(request.url));
  });

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      if (error.code === 'rate_limited' && typeof error.details?.retryAfter === 'number') reply.header('Retry-After', String(Math.ceil(error.details.retryAfter)));
      return reply.status(error.status).send(error.toBody());
    }
    const mapped = mapFrameworkError(error);
    if (mapped) return reply.status(mapped.status).send(mapped.toBody());
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send(new AppError('internal').toBody());
  });

  // Fastify allows one not-found handler per prefix, so the web app's fallback lives here too.
  const serveWeb = existsSync(join(config.webDir, 'index.html'));
  app.setNotFoundHandler((request, reply) => {
    // Client-side routes fall back to the app shell; unknown /api routes stay JSON 404s.
    if (serveWeb && request.method === 'GET' && !request.url.startsWith('/api/') && request.headers.accept?.includes('text/html')) {
      return reply.sendFile('index.html');
    }
    // The path is echoed to help a developer, but never whole: it is the client's to make long.
    const path = request.url.split('?')[0] ?? '';
    const shown = path.length > MAX_ECHOED_PATH ? `${path.slice(0, MAX_ECHOED_PATH)}…` : path;
    reply.status(404).send(new AppError('not_found', `No route ${request.method} ${shown}.`).toBody());
  });

  await app.register(fastifyCookie);

  app.decorate('checkOrigin', (request: FastifyRequest) => {
    const origin = request.headers.origin;
    if (!origin || !isAllowedOrigin(origin, request.raw, config.allowedOrigins, config.trustProxy)) {
      throw new AppError('forbidden_origin');
    }
  });

  app.decorate('requireAuth', async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    const bearer = header && /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const token = bearer || request.cookies[SESSION_COOKIE];
    if (!token) throw new AppError('unauthorized');
    const via = bearer ? 'bearer' : 'cookie';
    // A cookie rides along on cross-site requests; a bearer token cannot. So only cookie-authenticated
    // writes need proof they come from our own pages.
    if (via === 'cookie' && request.method !== 'GET' && request.method !== 'HEAD') app.checkOrigin(request);
    const auth = await app.sessions.authenticate(token);
    if (!auth) throw new AppError(bearer ? 'unauthorized' : 'session_expired');
    request.auth = { ...auth, via };
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Chatter REST API', version: VERSION, description: 'REST routes of Chatter. The WebSocket protocol at /ws is described in docs/protocol.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, cookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } } },
      security: [{ bearer: [] }, { cookie: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  app.get(
    '/api/health',
    { schema: { tags: ['meta'], summary: 'Liveness and version', security: [], response: { 200: HealthResponse, 503: ErrorResponse } } },
    async () => ({ status: 'ok' as const, version: VERSION, protocol: PROTOCOL_VERSION, uptimeSeconds: Math.round(process.uptime()) }),
  );

  await app.register(authRoutes);
  await app.register(conversationRoutes);
  // feature plugins
  await app.register(import('./profile/routes.js'));

  if (serveWeb) {
    await app.register(fastifyStatic, { root: config.webDir, wildcard: false, index: ['index.html'] });
  } else {
    app.log.debug({ webDir: config.webDir }, 'web app not built; serving the API only');
  }

  const gateway = new Gateway(app);
  app.decorate('gateway', gateway);
  app.server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));

  // Shutdown order matters: stop taking sockets and store what is in flight (acking it), close the
  // sockets with 1001 so clients resume elsewhere, and only then close the database.
  app.addHook('preClose', () => gateway.shutdown());
  app.addHook('onClose', async () => {
    conversations.close();
    eventFrames.close();
    await bus.close();
    await store.close();
  });

  return app;
}
