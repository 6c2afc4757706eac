import type { NodeFacts } from '../../../agent/node/node-facts.js';

export const FACTS: NodeFacts = {
  hostname: 'worker-1',
  internalIP: '192.168.10.5',
  machineID: '0123456789abcdef0123456789abcdef',
  bootID: '6a1c2e4f-1111-2222-3333-444455556666',
  systemUUID: 'ec2a0c1a-aaaa-bbbb-cccc-ddddeeeeffff',
  kernelVersion: '6.1.0-18-amd64',
  osImage: 'Debian GNU/Linux 12 (bookworm)',
  operatingSystem: 'linux',
  architecture: 'amd64',
  cpuCount: 4,
  memoryBytes: 8 * 1024 ** 3,
  ephemeralStorageBytes: 100 * 1024 ** 3,
};
