// Ports in probes and hooks are an int-or-string: a number, or the name of one of
// the container's ports (kubelet's ResolveContainerPort).
import type { Container } from '../api/types.js';
import { ProbeError } from './probe-outcome.js';

/** The port number `port` refers to; throws ProbeError for an unknown name or an out-of-range number. */
export function resolvePort(port: number | string, container: Pick<Container, 'name' | 'ports'>): number {
  let resolved: number;
  if (typeof port === 'number') {
    resolved = port;
  } else {
    const found = container.ports?.find((p) => p.name === port);
    if (!found) throw new ProbeError(`couldn't find port: ${port} in container ${container.name}'s ports`);
    resolved = found.containerPort;
  }
  if (!Number.isInteger(resolved) || resolved <= 0 || resolved >= 65536) {
    throw new ProbeError(`invalid port number: ${resolved} (container ${container.name})`);
  }
  return resolved;
}

/** host:port, with an IPv6 host in brackets (Go's net.JoinHostPort). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
