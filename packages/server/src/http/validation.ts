import { compile } from '@chatter/protocol/validate';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { AppError } from '../errors.js';

/**
 * Fastify's validator compiler: each route's body, query and params schema compiled once by the
 * protocol package, whose failures read as one sentence per field (at most five) in a
 * `validation_failed` error.
 */
export const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) => {
  const validator = compile(schema as TSchema);
  const convert = httpPart === 'querystring' || httpPart === 'params';
  return (data: unknown) => {
    const value = convert ? convertParams(schema as TSchema, data) : data;
    const result = validator.check(value);
    return result.ok ? { value: result.value } : { error: AppError.validation(result.fields) };
  };
};

/**
 * Query strings and path params arrive as text. TypeBox's Convert reads numbers with parseInt, so
 * `limit=2.5` would become 2, `before=1e3` 1 and `after=true` 1: silently a different request.
 * A conversion is kept only when the text means that very number; otherwise the text stays and
 * fails validation with the field's own message.
 */
function convertParams(schema: TSchema, data: unknown): unknown {
  if (!isRecord(data)) return Value.Convert(schema, data);
  const text = { ...data }; // Convert works in place
  const converted = Value.Convert(schema, data);
  if (!isRecord(converted)) return converted;
  const result: Record<string, unknown> = { ...converted };
  for (const [key, value] of Object.entries(converted)) {
    const raw = text[key];
    if (typeof raw === 'string' && typeof value === 'number' && Number(raw) !== value) result[key] = raw;
  }
  return result;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
