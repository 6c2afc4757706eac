// One look at the node's health for a status report: does the container runtime
// answer (and which version is it), do the registered health checks pass, and
// the pressure measurements. Bounded in time: a hung runtime is a down runtime.
import type { Runtime } from '../runtime/runtime.js';
import type { Clock } from '../api/clock.js';
import type { NodeHealthSample } from './node-conditions.js';
import { runtimeVersionString } from './node-object.js';
import { measureNodeUsage, type NodeUsage } from './node-usage.js';

/** A health check kubelet-style: cheap and synchronous; answers the problem, or undefined when healthy. */
export interface NodeHealthCheck {
  /** Named in the Ready message: "<name> is not healthy: <problem>". */
  name: string;
  check(): string | undefined;
}

export interface NodeHealthProbeOptions {
  runtime: Pick<Runtime, 'version'>;
  rootDir: string;
  /** How long version() may take before the runtime counts as down. */
  runtimeTimeoutMs: number;
  clock: Clock;
  healthChecks?: NodeHealthCheck[];
  /** Default: /proc and statfs of rootDir. */
  measureUsage?: (rootDir: string) => Promise<NodeUsage>;
}

export interface NodeHealthReport extends NodeHealthSample {
  /** `docker://20.10.24` when the runtime answered. */
  runtimeVersion?: string;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class NodeHealthProbe {
  constructor(private readonly options: NodeHealthProbeOptions) {}

  async sample(): Promise<NodeHealthReport> {
    const [runtime, usage] = await Promise.all([
      this.runtimeVersion(),
      (this.options.measureUsage ?? measureNodeUsage)(this.options.rootDir).catch((): NodeUsage => ({})),
    ]);
    const failedChecks: Array<{ name: string; error: string }> = [];
    for (const hc of this.options.healthChecks ?? []) {
      let problem: string | undefined;
      try {
        problem = hc.check();
      } catch (err) {
        problem = message(err);
      }
      if (problem !== undefined) failedChecks.push({ name: hc.name, error: problem });
    }
    return { ...usage, ...runtime, failedChecks };
  }

  private runtimeVersion(): Promise<{ runtimeVersion: string } | { runtimeError: string }> {
    const { runtime, runtimeTimeoutMs, clock } = this.options;
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: { runtimeVersion: string } | { runtimeError: string }) => {
        if (done) return;
        done = true;
        timer.cancel();
        resolve(r);
      };
      const timer = clock.setTimeout(() => finish({ runtimeError: `no answer to a version request within ${runtimeTimeoutMs} ms` }), runtimeTimeoutMs);
      // A version() that throws synchronously is as down as one that rejects.
      Promise.resolve()
        .then(() => runtime.version())
        .then(
          (v) => finish({ runtimeVersion: runtimeVersionString(v) }),
          (err: unknown) => finish({ runtimeError: message(err) }),
        );
    });
  }
}
