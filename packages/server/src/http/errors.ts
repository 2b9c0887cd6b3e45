import { ERRORS, type ErrorCode } from '@chatter/protocol';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { AppError } from '../errors.js';
import { securityHeaders } from './headers.js';

/*
 * Every error a client can see leaves in the catalogue's envelope, including those raised before a
 * route is found (a malformed URL) or before Fastify sees the request at all (oversized headers).
 * Framework and Node messages never reach the client: they echo the client's input (a 16 KB path)
 * and name internals (`FST_ERR_BAD_URL`).
 */

/** A Fastify error (body parsing, validation, routing) as the catalogue error a client sees; null for a server fault. */
export function mapFrameworkError(error: FastifyError): AppError | null {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'Send JSON (Content-Type: application/json).');
    case 'FST_ERR_VALIDATION':
      return AppError.validation({}, ERRORS.validation_failed.message);
    case 'FST_ERR_BAD_URL':
      return new AppError('bad_request', 'The address is not valid (bad percent-encoding).');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('uri_too_long', 'A part of the address is longer than any id this server uses.');
  }
  if (error.statusCode === 400 && error instanceof SyntaxError) return new AppError('invalid_json');
  if (error.statusCode && error.statusCode < 500) return new AppError(codeForStatus(error.statusCode));
  return null;
}

/** The catalogue's general code for an HTTP status (a 400 from Fastify is not a field problem). */
const GENERAL: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
};

function codeForStatus(status: number): ErrorCode {
  return GENERAL[status] ?? 'bad_request';
}

/** Fastify's `frameworkErrors`: errors raised while routing, before any route or hook runs. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = mapFrameworkError(error) ?? new AppError('internal');
  if (mapped.code === 'internal') request.log.error({ err: error }, 'routing failed');
  void reply.headers(securityHeaders('/api')).status(mapped.status).send(mapped.toBody());
}

/**
 * Node's 'clientError': a request the HTTP parser refused (headers over the limit, a malformed
 * request line, a client too slow to send its headers). Written straight to the socket, as Node
 * would, but in the catalogue's shape; the connection is closed after it, since the parser's state
 * is lost.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // A response already under way on this socket (keep-alive) cannot be followed by another.
  const underway = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (underway) return void socket.destroy();
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'bad_request';
  const status = ERRORS[code].status;
  const body = JSON.stringify(new AppError(code).toBody());
  const headers = { ...securityHeaders('/api'), 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
  if (!socket.writable) return void socket.destroy();
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  // Flushed before the socket goes: destroying at once could drop the answer the client waits for.
  socket.end(head + body, () => socket.destroy());
}
