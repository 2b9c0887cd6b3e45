import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';
import type { ErrorCode, FieldErrors } from './errors.js';
import { CLIENT_FRAMES, type ClientFrame } from './frames.js';

/*
 * Runtime validation, kept out of the package root so browser bundles that only need types
 * and constants never pull in the schema compiler.
 */

export type Checked<T> = { ok: true; value: T } | { ok: false; fields: FieldErrors };

export interface Validator<T> {
  check(value: unknown): Checked<T>;
}

/** Compile a schema once into a validator whose failures read as sentences per field. */
export function compile<S extends TSchema>(schema: S): Validator<Static<S>> {
  const checker: TypeCheck<S> = TypeCompiler.Compile(schema);
  return {
    check(value) {
      if (checker.Check(value)) return { ok: true, value: value as Static<S> };
      return { ok: false, fields: fieldErrors(checker, value) };
    },
  };
}

/**
 * Most field problems one answer lists. A body may carry any number of unknown keys; listing them
 * all made an answer larger than the request (and slower to build than to parse).
 */
export const MAX_FIELD_ERRORS = 5;

/** Longest piece of a client's input (a field name, a frame type) echoed back in an error. */
export const ECHO_MAX_CHARS = 32;

/** At most `ECHO_MAX_CHARS` of `text`, marked with an ellipsis when cut (never inside a surrogate pair). */
export function echo(text: string): string {
  if (text.length <= ECHO_MAX_CHARS) return text;
  const cut = /[\ud800-\udbff]$/.test(text.slice(0, ECHO_MAX_CHARS)) ? ECHO_MAX_CHARS - 1 : ECHO_MAX_CHARS;
  return `${text.slice(0, cut)}…`;
}

function fieldErrors(checker: TypeCheck<TSchema>, value: unknown): FieldErrors {
  const fields: FieldErrors = {};
  let count = 0;
  // Errors() is lazy: stopping at the cap also stops the work of finding the rest.
  for (const error of checker.Errors(value)) {
    const field = echo(error.path.replace(/^\//, '').replace(/\//g, '.').replace(/~1/g, '/').replace(/~0/g, '~') || '(body)');
    if (fields[field]) continue; // first problem per field is the one worth showing
    if (error.type === ValueErrorType.ObjectRequiredProperty) fields[field] = 'This field is required.';
    else if (error.type === ValueErrorType.ObjectAdditionalProperties) fields[field] = 'Unknown field.'; // the path names the key
    else if (field === '(body)' && error.type === ValueErrorType.Object) fields[field] = 'Expected a JSON object.';
    else {
      const custom = (error.schema as { errorMessage?: string }).errorMessage;
      fields[field] = custom ?? error.message;
    }
    if (++count === MAX_FIELD_ERRORS) break;
  }
  return fields;
}

const frameValidators = Object.fromEntries(
  Object.entries(CLIENT_FRAMES).map(([type, schema]) => [type, compile(schema)]),
) as Record<string, Validator<ClientFrame>>;

export type ParsedFrame =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: ErrorCode; message: string; ref?: string; fields?: FieldErrors };

/** Parse and validate one frame from a client. Never throws. */
export function parseClientFrame(raw: string): ParsedFrame {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'bad_frame', message: 'The frame is not valid JSON.' };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, code: 'bad_frame', message: 'A frame must be a JSON object with a "type".' };
  }
  const record = data as Record<string, unknown>;
  // A ref is echoed whole, so that the client can match the answer; one longer than any valid ref
  // (the frames allow 64 characters) could only be a way to make the answer big, and is dropped.
  const ref = [record.ref, record.clientId].find((r): r is string => typeof r === 'string' && r.length <= 64);
  const type = record.type;
  const validator = typeof type === 'string' && Object.hasOwn(frameValidators, type) ? frameValidators[type] : undefined;
  if (!validator) {
    const named = typeof type === 'string' ? JSON.stringify(echo(type)) : type === undefined || type === null ? 'null' : `(a JSON ${Array.isArray(type) ? 'array' : typeof type})`;
    return {
      ok: false,
      code: 'unknown_type',
      message: `Unknown frame type ${named}. Known: ${Object.keys(CLIENT_FRAMES).join(', ')}.`,
      ...(ref !== undefined && { ref }),
    };
  }
  const result = validator.check(data);
  if (!result.ok) {
    const summary = Object.entries(result.fields).map(([f, m]) => `${f}: ${m}`).join(' ');
    return { ok: false, code: 'validation_failed', message: `Invalid ${String(type)} frame. ${summary}`, fields: result.fields, ...(ref !== undefined && { ref }) };
  }
  return { ok: true, frame: result.value };
}
