// One short Docker request under its own deadline, with its failure mapped to a typed
// runtime error. The deadline is an abort signal handed to dockerode (which aborts
// the HTTP request) and also raced, because a few dockerode calls (image inspect)
// ignore abort signals. Never dockerode's client-wide `timeout`: that one also cuts
// quiet log, event and exec streams.
import { RuntimeUnavailableError } from '../errors.js';
import { GenericRuntimeError, toRuntimeError, type RuntimeErrorClass } from './docker-errors.js';

export interface CallOptions {
  /** Overrides the request timeout; 0 = no deadline. */
  timeoutMs?: number;
  /** The caller's cancellation, linked to the request (and to a stream it returns). */
  signal?: AbortSignal;
  /** Error class for a refusal by Docker (any status but 404). */
  failure?: RuntimeErrorClass;
}

/** Runs `fn` with a signal that aborts at the deadline or on the caller's cancellation. */
export type DockerCall = <T>(what: string, fn: (signal: AbortSignal) => Promise<T>, options?: CallOptions) => Promise<T>;

class DeadlineExceeded extends Error {}

export function createDockerCall(endpoint: string, requestTimeoutMs: number): DockerCall {
  return async function call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>, options: CallOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? requestTimeoutMs;
    const deadline = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal;
    const timer = timeoutMs > 0 ? setTimeout(() => deadline.abort(new DeadlineExceeded()), timeoutMs) : undefined;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(signal.reason as Error);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      return await Promise.race([fn(signal), aborted]);
    } catch (err) {
      if (deadline.signal.aborted) {
        throw new RuntimeUnavailableError(`${what}: Docker at ${endpoint} did not answer within ${timeoutMs} ms`, { cause: err });
      }
      if (options.signal?.aborted) throw new (options.failure ?? GenericRuntimeError)(`${what}: cancelled`, { cause: err });
      throw toRuntimeError(err, what, endpoint, options.failure);
    } finally {
      // The timer goes, so a stream returned by `fn` outlives the deadline; the caller's signal still reaches it.
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  };
}
