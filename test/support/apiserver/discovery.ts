// The discovery documents (/api, /apis, /apis/<g>, /<gv> resource lists, /version)
// for the resources this server serves; a disabled group is simply absent.
import type { DiscoveryDoc } from './routes.js';
import { VERBS, type ResourceCatalog, type ResourceDef } from './resources.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.0',
  gitCommit: 'nodelet-test-apiserver',
  gitTreeState: 'clean',
  buildDate: '2024-08-13T00:00:00Z',
  goVersion: 'go1.22.5',
  compiler: 'gc',
  platform: 'linux/amd64',
};

function resourceEntries(def: ResourceDef): unknown[] {
  const main: Record<string, unknown> = {
    name: def.plural,
    singularName: def.singular,
    namespaced: def.namespaced,
    kind: def.kind,
    verbs: [...VERBS],
  };
  if (def.shortNames) main.shortNames = def.shortNames;
  if (!def.hasStatus) return [main];
  return [main, { name: `${def.plural}/status`, singularName: '', namespaced: def.namespaced, kind: def.kind, verbs: ['get', 'patch', 'update'] }];
}

function groupDoc(name: string, versions: string[]) {
  const gvs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: gvs, preferredVersion: gvs[0] };
}

export function discoveryDocument(target: DiscoveryDoc, catalog: ResourceCatalog, serverAddress: string): unknown {
  switch (target.doc) {
    case 'version':
      return SERVER_VERSION;
    case 'health':
      return 'ok';
    case 'api':
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
    case 'apis':
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: catalog.groups().map((g) => groupDoc(g.name, g.versions)) };
    case 'group': {
      const g = catalog.groups().find((x) => x.name === target.group)!;
      return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(g.name, g.versions) };
    }
    case 'resources':
      return {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: target.group ? `${target.group}/${target.version}` : target.version,
        resources: catalog.inGroupVersion(target.group, target.version).flatMap(resourceEntries),
      };
  }
}
