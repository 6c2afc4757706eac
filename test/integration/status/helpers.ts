// Shared setup of the status integration tests: a TestApiServer on loopback, a
// real KubeClient from its kubeconfig, and small polling helpers (no Docker).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../../../agent/api/types.js';
import { KubeClient } from '../../../agent/kube/client.js';
import { TestApiServer } from '../../support/apiserver/server.js';

export const NODE = 'node-a';

export interface Cluster {
  server: TestApiServer;
  client: KubeClient;
  close(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'nodelet-status-'));
  const server = new TestApiServer({ bookmarkIntervalMs: 200 });
  await server.start();
  const client = await KubeClient.fromKubeconfig(await server.kubeconfig(join(dir, 'kubeconfig')), { timeoutMs: 2_000, connectTimeoutMs: 1_000 });
  return {
    server,
    client,
    async close() {
      client.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A minimal pod; nodeName '' leaves it unscheduled. */
export function podManifest(name: string, nodeName = NODE, extra: Partial<Pod['metadata']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ...extra },
    spec: { containers: [{ name: 'app', image: 'busybox:1.36' }], ...(nodeName ? { nodeName } : {}) },
  };
}

/** Polls `check` until it holds (every 20 ms) or fails after `timeoutMs` with `what`. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
