// Kubernetes `Status` failures as the real apiserver sends them: the same codes,
// reasons and message shapes, so a client's error handling is exercised for real.
import type { ResourceDef } from './resources.js';

export type StatusReason =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'Gone'
  | 'Expired'
  | 'Unauthorized'
  | 'InternalError'
  | 'MethodNotAllowed'
  | 'BadRequest'
  | 'TooManyRequests'
  | 'ServiceUnavailable'
  | 'Timeout'
  | 'UnsupportedMediaType'
  | 'Forbidden';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Failure';
  message: string;
  reason: StatusReason;
  code: number;
  details?: StatusDetails;
}

/** A request the server refuses; `status` is the body it answers with. */
export class ApiError extends Error {
  readonly status: Status;

  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'ApiError';
    this.status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
    if (details) this.status.details = details;
  }

  get code(): number {
    return this.status.code;
  }
  get reason(): StatusReason {
    return this.status.reason;
  }
}

function target(def: ResourceDef, name: string): StatusDetails {
  const details: StatusDetails = { name, kind: def.plural };
  if (def.group) details.group = def.group;
  return details;
}

/** `pods "x"` or `leases.coordination.k8s.io "x"`, as the real messages name a resource. */
function qualified(def: ResourceDef): string {
  return def.group ? `${def.plural}.${def.group}` : def.plural;
}

export function notFound(def: ResourceDef, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(def)} "${name}" not found`, target(def, name));
}

export function namespaceNotFound(namespace: string): ApiError {
  return new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
}

export function alreadyExists(def: ResourceDef, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualified(def)} "${name}" already exists`, target(def, name));
}

/** Optimistic-concurrency failure: the caller's resourceVersion is not the stored one. */
export function conflict(
  def: ResourceDef,
  name: string,
  why = 'the object has been modified; please apply your changes to the latest version and try again',
): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(def)} "${name}": ${why}`, target(def, name));
}

export function preconditionFailed(def: ResourceDef, name: string, field: 'UID' | 'ResourceVersion', wanted: string, actual: string): ApiError {
  return conflict(def, name, `Precondition failed: ${field} in precondition: ${wanted}, ${field} in object meta: ${actual}`);
}

export function invalid(def: ResourceDef, name: string, causes: Array<Required<Pick<StatusCause, 'field' | 'message'>> & { reason: string }>): ApiError {
  const text = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  const details: StatusDetails = { name, kind: def.kind, causes };
  if (def.group) details.group = def.group;
  return new ApiError(422, 'Invalid', `${def.kind} "${name}" is invalid: ${text}`, details);
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

export function gone(message: string): ApiError {
  return new ApiError(410, 'Gone', message);
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

export function methodNotAllowed(message: string): ApiError {
  return new ApiError(405, 'MethodNotAllowed', message);
}

export function notFoundPath(path: string): ApiError {
  return new ApiError(404, 'NotFound', `the server could not find the requested resource (${path})`, {});
}

export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got "${contentType}")`,
  );
}

export function internalError(err: unknown): ApiError {
  const text = err instanceof Error ? err.message : String(err);
  return new ApiError(500, 'InternalError', `Internal error occurred: ${text}`, { causes: [{ message: text }] });
}

/** The failure an injected fault answers with, shaped like the real server's for that code. */
export function injectedFailure(code: number, retryAfterSeconds?: number): ApiError {
  switch (code) {
    case 429:
      return new ApiError(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: retryAfterSeconds ?? 1 });
    case 503:
      return new ApiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request (injected fault)');
    case 504:
      return new ApiError(504, 'Timeout', 'the server was unable to return a response in the time allotted (injected fault)');
    case 409:
      return new ApiError(409, 'Conflict', 'Operation cannot be fulfilled: injected conflict');
    case 410:
      return new ApiError(410, 'Gone', 'injected gone');
    case 401:
      return unauthorized();
    case 404:
      return new ApiError(404, 'NotFound', 'injected not found');
    default:
      return new ApiError(code, 'InternalError', `Internal error occurred: injected fault (${code})`);
  }
}
