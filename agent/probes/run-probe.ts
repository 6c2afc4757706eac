// Runs one probe with the handler it declares, against one container instance.
import type { Container, Probe } from '../api/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { execProbe } from './exec-handler.js';
import type { ExecLimiter } from './exec-limiter.js';
import { grpcProbe } from './grpc-handler.js';
import { httpProbe } from './http-handler.js';
import { ProbeError, type ProbeOutcome } from './probe-outcome.js';
import { tcpProbe } from './tcp-handler.js';
import type { ProbeHandlerKind } from './latency-recorder.js';

export interface ProbeTarget {
  runtime: Runtime;
  /** Bounds exec probes node-wide; the wait for a slot does not count against the timeout. */
  execLimiter: ExecLimiter;
  containerId: string;
  container: Container;
  podIP: string;
}

export function runProbe(probe: Probe, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  if (probe.exec) {
    const command = probe.exec.command ?? [];
    return target.execLimiter.run(() => execProbe(target.runtime, target.containerId, command, timeoutMs));
  }
  if (probe.httpGet) return httpProbe(probe.httpGet, target, timeoutMs);
  if (probe.tcpSocket) return tcpProbe(probe.tcpSocket, target, timeoutMs);
  if (probe.grpc) return grpcProbe(probe.grpc, target, timeoutMs);
  return Promise.reject(new ProbeError(`the probe of container ${target.container.name} names no handler (exec, httpGet, tcpSocket or grpc)`));
}

/** Which handler a probe uses. */
export function handlerKind(probe: Probe): ProbeHandlerKind | undefined {
  if (probe.exec) return 'exec';
  if (probe.httpGet) return 'httpGet';
  if (probe.tcpSocket) return 'tcpSocket';
  if (probe.grpc) return 'grpc';
  return undefined;
}
