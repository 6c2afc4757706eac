// tcpSocket probes (and hooks): success when a TCP connection opens within the
// timeout; the connection is closed at once, as kubelet does.
import net from 'node:net';
import type { Container, TCPSocketAction } from '../api/types.js';
import { joinHostPort, resolvePort } from './container-port.js';
import { ProbeError, elapsedMs, formatDuration, type ProbeOutcome } from './probe-outcome.js';

export interface TcpProbeTarget {
  podIP: string;
  container: Pick<Container, 'name' | 'ports'>;
}

export async function tcpProbe(action: TCPSocketAction, target: TcpProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const host = action.host || target.podIP;
  if (!host) throw new ProbeError(`tcpSocket probe of container ${target.container.name} has no host and the pod has no IP yet`);
  const port = resolvePort(action.port, target.container);
  return tcpConnect(host, port, timeoutMs);
}

/** Connects to host:port and closes; failure messages read like kubelet's ("dial tcp …"). */
export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  const start = performance.now();
  const address = joinHostPort(host, port);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (outcome: Omit<ProbeOutcome, 'latencyMs'>) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...outcome, latencyMs: elapsedMs(start) });
    };
    const timer = setTimeout(() => finish({ result: 'failure', message: `dial tcp ${address}: i/o timeout after ${formatDuration(timeoutMs)}` }), timeoutMs);
    socket.once('connect', () => finish({ result: 'success' }));
    socket.once('error', (err) => finish({ result: 'failure', message: `dial tcp ${address}: ${err.message}` }));
  });
}
