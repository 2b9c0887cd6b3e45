import { ERRORS, type ErrorBody, type ErrorCode, type ErrorDetails, type FieldErrors } from '@chatter/protocol';

/** An error a client is meant to see: a catalogue code, a status, a message and optional details. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: ErrorDetails,
  ) {
    super(message ?? ERRORS[code].message);
    this.status = ERRORS[code].status;
  }

  static validation(fields: FieldErrors, message?: string): AppError {
    const summary = message ?? Object.entries(fields).map(([f, m]) => `${f}: ${m}`).join(' ');
    return new AppError('validation_failed', summary || ERRORS.validation_failed.message, { fields });
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details && { details: this.details }) } };
  }
}
