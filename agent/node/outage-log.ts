// One warning per apiserver outage, not one per attempt: the node controller runs
// several loops (registration, lease, status) that all fail together when the
// server is away, each retrying every few seconds. The first failure is a warning,
// the rest are debug, and the first success afterwards says the server is back.
import type { Logger } from '../log/logger.js';
import { isRetryable } from '../kube/errors.js';

export class OutageLog {
  private down = false;
  private failures = 0;
  /** Per loop: the last non-outage error reported, so a persistent refusal is logged once. */
  private readonly lastRefusal = new Map<string, string>();

  constructor(private readonly logger: Logger) {}

  failed(what: string, err: unknown): void {
    if (isRetryable(err)) {
      this.failures++;
      if (this.down) {
        this.logger.debug({ err, what }, 'apiserver still unreachable; retrying');
        return;
      }
      this.down = true;
      this.logger.warn({ err, what }, 'apiserver unreachable; retrying with backoff');
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    if (this.lastRefusal.get(what) === message) {
      this.logger.debug({ err, what }, 'apiserver request refused again; retrying');
      return;
    }
    this.lastRefusal.set(what, message);
    this.logger.warn({ err, what }, 'apiserver request refused; retrying with backoff');
  }

  succeeded(what: string): void {
    this.lastRefusal.delete(what);
    if (!this.down) return;
    this.down = false;
    this.logger.info({ what, failedAttempts: this.failures }, 'apiserver reachable again');
    this.failures = 0;
  }
}
