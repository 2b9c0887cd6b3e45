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

function fieldErrors(checker: TypeCheck<TSchema>, value: unknown): FieldErrors {
  const fields: FieldErrors = {};
  for (const error of checker.Errors(value)) {
    const field = error.path.replace(/^\//, '').replace(/\//g, '.') || '(body)';
    if (fields[field]) continue; // first problem per field is the one worth showing
    if (error.type === ValueErrorType.ObjectRequiredProperty) fields[field] = 'This field is required.';
    else if (error.type === ValueErrorType.ObjectAdditionalProperties) {
      // Reported on the object; name the unexpected keys instead.
      const known = Object.keys((error.schema as { properties?: object }).properties ?? {});
      const extra = value && typeof value === 'object' ? Object.keys(value).filter((k) => !known.includes(k)) : [];
      for (const key of extra) fields[key] ??= 'Unknown field.';
      if (extra.length === 0) fields[field] = 'Unknown field.';
    } else if (field === '(body)' && error.type === ValueErrorType.Object) fields[field] = 'Expected a JSON object.';
    else {
      const custom = (error.schema as { errorMessage?: string }).errorMessage;
      fields[field] = custom ?? error.message;
    }
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
  const ref = typeof record.ref === 'string' ? record.ref : typeof record.clientId === 'string' ? record.clientId : undefined;
  const type = record.type;
  const validator = typeof type === 'string' && Object.hasOwn(frameValidators, type) ? frameValidators[type] : undefined;
  if (!validator) {
    return {
      ok: false,
      code: 'unknown_type',
      message: `Unknown frame type ${JSON.stringify(type ?? null)}. Known: ${Object.keys(CLIENT_FRAMES).join(', ')}.`,
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
