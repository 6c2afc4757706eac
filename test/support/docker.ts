// Helpers for integration tests against the real Docker engine: a runtime, a run id
// to label (and later find) everything a test run makes, and label-based cleanup.
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { createRuntime, type EngineRuntime } from '../../agent/runtime/create-runtime.js';

export const docker = new Docker({ socketPath: '/var/run/docker.sock' });

/** Label every test object carries, with the run id as value. */
export const TEST_RUN_LABEL = 'nodelet.io/test-run';

/** Unique per test process: labels, names and subnets of one run never meet another's. */
export const runId = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;

export function testRuntime(requestTimeoutMs = 30_000): EngineRuntime {
  return createRuntime({ requestTimeoutMs });
}

/** Removes every container and network carrying `label=value`. */
export async function removeAllWithLabel(label: string, value: string): Promise<void> {
  const filters = { label: [`${label}=${value}`] };
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  );
  const networks = await docker.listNetworks({ filters });
  await Promise.all(
    networks.map((n) =>
      docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => undefined),
    ),
  );
}

export interface TestNetwork {
  name: string;
  subnet: string;
  remove(): Promise<void>;
}

/** A bridge network with a random 10.250.x.0/24 subnet, labelled for cleanup; retries on an overlapping subnet. */
export async function createTestNetwork(prefix = 'nodelet-it'): Promise<TestNetwork> {
  let lastError: unknown;
  for (let i = 0; i < 10; i++) {
    const subnet = `10.250.${Math.floor(Math.random() * 250) + 1}.0/24`;
    const name = `${prefix}-${runId}-${i}`;
    try {
      await docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
        Labels: { [TEST_RUN_LABEL]: runId },
      });
      return {
        name,
        subnet,
        remove: () =>
          docker
            .getNetwork(name)
            .remove()
            .catch(() => undefined),
      };
    } catch (err) {
      lastError = err; // most likely "Pool overlaps with other one on this address space"
    }
  }
  throw lastError;
}
