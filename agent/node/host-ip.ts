// The node's own address (status.hostIP, and the pod IP of host-network pods): the
// first IPv4 address of an interface that is not loopback and not a container bridge.
import { networkInterfaces } from 'node:os';

const CONTAINER_INTERFACES = /^(docker|br-|veth|nlt|cni|flannel|cali|kube-|nodelet)/;

export function detectHostIP(): string {
  const candidates: string[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (CONTAINER_INTERFACES.test(name)) continue;
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) candidates.push(a.address);
    }
  }
  return candidates[0] ?? '127.0.0.1';
}
