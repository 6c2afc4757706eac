// dockerode failures → the typed runtime errors the agent branches on. Connection
// failures and timeouts mean "the runtime is unavailable" (the worker backs off and
// keeps its state); 404 means "not found"; the rest carry Docker's own message.
import { NotFoundError, RuntimeError, RuntimeUnavailableError, isRuntimeError } from '../errors.js';

/** Socket-level failures: dockerd is not there, not listening, or went away mid-request. */
const CONNECTION_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EACCES', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH']);

export type RuntimeErrorClass = new (message: string, options?: { cause?: unknown }) => RuntimeError;

export function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}

/** Docker's message ("No such container: abc") rather than dockerode's "(HTTP code 404) …" wrapper. */
export function dockerMessage(err: unknown): string {
  const e = err as { json?: unknown; message?: unknown } | null;
  const json = e?.json as { message?: unknown } | string | Buffer | null | undefined;
  if (json && typeof json === 'object' && !Buffer.isBuffer(json) && typeof json.message === 'string') return json.message.trim();
  if (typeof json === 'string' && json.trim() !== '') return json.trim();
  if (Buffer.isBuffer(json) && json.length > 0) return json.toString('utf8').trim();
  if (typeof e?.message === 'string') return e.message.trim();
  return String(err);
}

/**
 * Maps any failure of a Docker call. `what` names the operation and object
 * ("start container k8s_web_…"), `endpoint` where Docker was expected, and `failure`
 * the error class for an engine-side refusal.
 */
export function toRuntimeError(err: unknown, what: string, endpoint: string, failure: RuntimeErrorClass = GenericRuntimeError): RuntimeError {
  if (isRuntimeError(err)) return err;
  if (isConnectionError(err)) {
    const code = (err as { code: string }).code;
    return new RuntimeUnavailableError(`${what}: cannot reach Docker at ${endpoint} (${code}); is dockerd running?`, { cause: err });
  }
  if (httpStatusOf(err) === 404) return new NotFoundError(`${what}: ${dockerMessage(err)}`, { cause: err });
  if (httpStatusOf(err) === undefined && (err as Error | null)?.message === 'socket hang up') {
    return new RuntimeUnavailableError(`${what}: Docker at ${endpoint} closed the connection`, { cause: err });
  }
  return new failure(`${what}: ${dockerMessage(err)}`, { cause: err });
}

/** RuntimeError with the catch-all code, in the shape of the other error classes. */
export class GenericRuntimeError extends RuntimeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RuntimeError', message, options);
  }
}
