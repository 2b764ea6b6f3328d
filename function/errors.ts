/**
 * Errors that leave the request path early. Each carries a stable `code` (dot-delimited, used as
 * the outcome label in logs), the HTTP status it maps to, and the message the client sees.
 *
 * Three outcome classes are kept apart: the caller's request was wrong (4xx, the message explains
 * it), the user's Python failed (not an error here: 200 with `emsg`), and the service failed (5xx
 * with a fixed sentence; the detail goes to the log only, through `cause`).
 */
export class ServiceError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** The request is malformed or breaks a policy; the message is returned to the caller verbatim. */
export class RequestRejectedError extends ServiceError {
  constructor(code: string, message: string, status = 400) {
    super(code, status, message);
  }
}

/** A body or part exceeds a configured size or count limit. */
export class RequestTooLargeError extends RequestRejectedError {
  constructor(code: string, message: string) {
    super(code, message, 413);
  }
}

/** Execution is switched off by configuration (`CODEJAIL_ENABLED=false`). */
export class ServiceDisabledError extends ServiceError {
  constructor() {
    super("disabled.feature_switch", 500, "Codejail service not enabled");
  }
}

/** The startup safety check did not pass, so no code is accepted. */
export class SafetyCheckFailedError extends ServiceError {
  constructor() {
    super("disabled.safety_checks_failed", 500, "Codejail service is not correctly configured");
  }
}

/** The sandbox machinery failed (not the user's code); details stay in the log. */
export class SandboxFailedError extends ServiceError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super("failed.sandbox", 500, "Code execution failed because of an internal error", options);
    this.reason = reason;
  }

  readonly reason: string;
}

/** Any error that is not a ServiceError: a bug in the service. */
export class InternalError extends ServiceError {
  constructor(cause: unknown) {
    super("failed.internal", 500, "Internal server error", { cause });
  }
}

/** Wraps anything thrown into a ServiceError, so every path can return JSON. */
export function toServiceError(error: unknown): ServiceError {
  return error instanceof ServiceError ? error : new InternalError(error);
}
