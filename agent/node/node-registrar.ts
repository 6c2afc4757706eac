// Registration as kubelet does it: create the Node; when one with our name already
// exists (the agent restarted, or an operator pre-created it), adopt it — same
// object, same UID — and make sure it carries our labels. Its status (addresses,
// capacity, nodeInfo, conditions) is brought up to date by the first status report,
// and its taints are left alone: registerWithTaints applies to a new Node only.
import type { KubeClient } from '../kube/client.js';
import { isAlreadyExists } from '../kube/errors.js';
import { resourcePath } from '../kube/resource-path.js';
import { missingLabels } from './node-status-diff.js';
import type { Node } from './node-types.js';

export interface Registration {
  node: Node;
  /** False when an existing Node was adopted. */
  created: boolean;
}

export const NODES_PATH = resourcePath({ version: 'v1', resource: 'nodes' });

export function nodePath(name: string, subresource?: 'status'): string {
  return resourcePath({ version: 'v1', resource: 'nodes', name, ...(subresource ? { subresource } : {}) });
}

/** One attempt; throws the client's typed errors for the caller's retry loop. */
export async function registerNode(client: KubeClient, desired: Node, signal?: AbortSignal): Promise<Registration> {
  const name = desired.metadata.name ?? '';
  const call = signal ? { signal } : {};
  try {
    return { node: await client.create<Node>(NODES_PATH, desired, call), created: true };
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  const existing = await client.get<Node>(nodePath(name), call);
  const labels = missingLabels(existing.metadata.labels, desired.metadata.labels ?? {});
  if (!labels) return { node: existing, created: false };
  const patched = await client.patch<Node>(nodePath(name), { metadata: { labels } }, 'strategic', call);
  return { node: patched, created: false };
}
