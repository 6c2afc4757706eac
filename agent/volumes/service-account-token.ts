// Projected serviceAccountToken: a TokenRequest for the pod's service account, bound
// to the pod. undefined when the server has no TokenRequest API (404/405), so the
// volume reports that clearly instead of mounting an empty file. Tokens are never logged.
import type { Pod } from '../api/types.js';
import type { KubeClient } from '../kube/client.js';
import { ApiError } from '../kube/errors.js';
import { resourcePath } from '../kube/resource-path.js';

export async function requestServiceAccountToken(
  client: KubeClient,
  pod: Pod,
  audience: string | undefined,
  expirationSeconds: number,
): Promise<string | undefined> {
  const namespace = pod.metadata.namespace ?? 'default';
  const name = pod.spec.serviceAccountName || 'default';
  const body = {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: {
      ...(audience ? { audiences: [audience] } : {}),
      expirationSeconds,
      boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid },
    },
  };
  try {
    const result = await client.create<{ status?: { token?: string } }>(
      resourcePath({ version: 'v1', resource: 'serviceaccounts', namespace, name, subresource: 'token' }),
      body,
    );
    return result.status?.token;
  } catch (err) {
    if (err instanceof ApiError && (err.code === 404 || err.code === 405)) return undefined;
    throw err;
  }
}
