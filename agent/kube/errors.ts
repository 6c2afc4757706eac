// Typed failures of the apiserver client. Callers branch on the class and on
// `code`/`reason` (the HTTP status and the Status reason), never on message text.
import type { Status } from './types.js';

/** The kubeconfig file is unreadable or a field in it is missing or invalid. */
export class KubeconfigError extends Error {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`kubeconfig ${path}: ${message}`, options);
    this.name = 'KubeconfigError';
    this.path = path;
  }
}

/** Credentials could not be obtained (exec plugin failed, token file unreadable). */
export class CredentialError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CredentialError';
  }
}

/** Reasons the apiserver uses for each status code, for answers that carry no Status body. */
const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function reasonForCode(code: number): string {
  return REASON_BY_CODE[code] ?? (code >= 500 ? 'InternalError' : 'Unknown');
}

/** The apiserver answered with an error status. */
export class ApiError extends Error {
  /** HTTP status code. */
  readonly code: number;
  /** Status.reason (NotFound, Conflict, Expired…), or the one implied by the code. */
  readonly reason: string;
  /** The Status object, when the server sent one. */
  readonly status: Status | undefined;
  readonly method: string;
  readonly path: string;
  /** From the Retry-After header or Status.details.retryAfterSeconds. */
  readonly retryAfterSeconds: number | undefined;

  constructor(init: { method: string; path: string; code: number; status?: Status; message?: string; retryAfterSeconds?: number }) {
    const reason = init.status?.reason || reasonForCode(init.code);
    const detail = init.status?.message || init.message || reason;
    super(`${init.method} ${init.path}: ${init.code} ${reason}: ${detail}`);
    this.name = 'ApiError';
    this.code = init.code;
    this.reason = reason;
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
    this.retryAfterSeconds = init.retryAfterSeconds ?? init.status?.details?.retryAfterSeconds;
  }

  /** An ERROR event of a watch stream as an error (its Status carries the code). */
  static fromStatus(method: string, path: string, status: Status): ApiError {
    return new ApiError({ method, path, code: status.code ?? 500, status });
  }
}

/** The apiserver could not be reached or did not answer in time. Safe to retry later. */
export class ApiUnavailableError extends Error {
  readonly method: string;
  readonly path: string;
  constructor(method: string, path: string, message: string, options?: { cause?: unknown }) {
    super(`${method} ${path}: ${message}`, options);
    this.name = 'ApiUnavailableError';
    this.method = method;
    this.path = path;
  }
}

/** A watch stream broke after it had started (connection reset, truncated or invalid data). */
export class WatchStreamError extends ApiUnavailableError {
  constructor(method: string, path: string, message: string, options?: { cause?: unknown }) {
    super(method, path, message, options);
    this.name = 'WatchStreamError';
  }
}

export function isApiError(err: unknown, code?: number): err is ApiError {
  return err instanceof ApiError && (code === undefined || err.code === code);
}

export function isNotFound(err: unknown): boolean {
  return isApiError(err, 404);
}

export function isAlreadyExists(err: unknown): boolean {
  return isApiError(err, 409) && err.reason === 'AlreadyExists';
}

/** 409 Conflict: a resourceVersion or UID precondition did not hold (not AlreadyExists). */
export function isConflict(err: unknown): boolean {
  return isApiError(err, 409) && err.reason !== 'AlreadyExists';
}

/** 410 Gone / Expired: the requested resourceVersion or continue token is too old. */
export function isGone(err: unknown): boolean {
  return err instanceof ApiError && (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}

/** Worth retrying after a pause: unreachable server, throttling, server-side failures. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ApiUnavailableError) return true;
  if (!(err instanceof ApiError)) return false;
  return err.code === 429 || (err.code >= 500 && err.code !== 501);
}
