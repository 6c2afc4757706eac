// A kubeconfig that points a client at the test server.
import { stringify } from 'yaml';

export function kubeconfigYaml(server: string, token: string | undefined, namespace = 'default'): string {
  const user: Record<string, string> = token ? { token } : {};
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [{ name: 'test-apiserver', cluster: { server } }],
    users: [{ name: 'test-user', user }],
    contexts: [{ name: 'test', context: { cluster: 'test-apiserver', user: 'test-user', namespace } }],
    'current-context': 'test',
  });
}
