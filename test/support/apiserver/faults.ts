// Injected failures and latency. A rule answers the next N matching requests with
// an error status instead of serving them.
import type { ApiVerb } from './routes.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface FailureMatch {
  /** Only requests whose path matches. */
  path?: RegExp;
  /** A Kubernetes verb ('patch', 'watch', …) or an HTTP method ('PATCH', …). */
  verb?: ApiVerb | HttpMethod;
}

export interface FailureRule extends FailureMatch {
  /** The HTTP status to answer with: 429, 500, 503 (any code is accepted). */
  status: number;
  /** For 429: the Retry-After header, in seconds (default 1). */
  retryAfterSeconds?: number;
}

interface ActiveRule {
  rule: FailureRule;
  remaining: number;
}

export interface FaultTarget {
  method: string;
  path: string;
  verb?: ApiVerb;
}

export class FaultInjector {
  private rules: ActiveRule[] = [];
  latencyMs = 0;

  failNext(count: number, rule: FailureRule): void {
    if (!Number.isInteger(count) || count < 1) throw new Error(`failNext: count must be a positive integer, got ${count}`);
    this.rules.push({ rule: { ...rule }, remaining: count });
  }

  clear(): void {
    this.rules = [];
    this.latencyMs = 0;
  }

  /** The rule that fails this request (consuming one of its uses), if any. */
  take(target: FaultTarget): FailureRule | undefined {
    const active = this.rules.find((a) => a.remaining > 0 && matches(a.rule, target));
    if (!active) return undefined;
    active.remaining--;
    this.rules = this.rules.filter((a) => a.remaining > 0);
    return active.rule;
  }
}

function matches(rule: FailureMatch, t: FaultTarget): boolean {
  if (rule.path && !rule.path.test(t.path)) return false;
  if (rule.verb === undefined) return true;
  return rule.verb === rule.verb.toUpperCase() ? rule.verb === t.method : rule.verb === t.verb;
}
