// The API resources the test server serves, with the per-resource facts the real
// apiserver's registry encodes: scope, status subresource, graceful deletion,
// create-on-update and the field labels a fieldSelector may use.

export interface ResourceDef {
  /** '' for the core (legacy) group served under /api. */
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Has a `status` subresource: the main resource ignores status, `/status` changes only status. */
  hasStatus: boolean;
  /** DELETE may only mark the object (deletionTimestamp) and leave it for its owner to finish. */
  gracefulDelete: boolean;
  /** PUT on a missing object creates it (true for events and endpoints in the real registry). */
  allowCreateOnUpdate: boolean;
  /** Field labels a fieldSelector may use besides metadata.name (and metadata.namespace when namespaced). */
  fieldLabels: string[];
}

export const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] as const;

const core = (def: Omit<ResourceDef, 'group' | 'version'>): ResourceDef => ({ group: '', version: 'v1', ...def });

export const RESOURCES: readonly ResourceDef[] = [
  core({
    plural: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    hasStatus: true,
    gracefulDelete: true,
    allowCreateOnUpdate: false,
    fieldLabels: [
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'spec.hostNetwork',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ],
  }),
  core({
    plural: 'nodes',
    singular: 'node',
    kind: 'Node',
    namespaced: false,
    shortNames: ['no'],
    hasStatus: true,
    gracefulDelete: false,
    allowCreateOnUpdate: false,
    fieldLabels: ['spec.unschedulable'],
  }),
  core({
    plural: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
    hasStatus: false,
    gracefulDelete: false,
    allowCreateOnUpdate: true,
    fieldLabels: [
      'involvedObject.kind',
      'involvedObject.namespace',
      'involvedObject.name',
      'involvedObject.uid',
      'involvedObject.apiVersion',
      'involvedObject.resourceVersion',
      'involvedObject.fieldPath',
      'reason',
      'reportingComponent',
      'source',
      'type',
    ],
  }),
  core({
    plural: 'services',
    singular: 'service',
    kind: 'Service',
    namespaced: true,
    shortNames: ['svc'],
    hasStatus: true,
    gracefulDelete: false,
    allowCreateOnUpdate: false,
    fieldLabels: ['spec.clusterIP', 'spec.type'],
  }),
  core({
    plural: 'endpoints',
    singular: 'endpoints',
    kind: 'Endpoints',
    namespaced: true,
    shortNames: ['ep'],
    hasStatus: false,
    gracefulDelete: false,
    allowCreateOnUpdate: true,
    fieldLabels: [],
  }),
  core({
    plural: 'configmaps',
    singular: 'configmap',
    kind: 'ConfigMap',
    namespaced: true,
    shortNames: ['cm'],
    hasStatus: false,
    gracefulDelete: false,
    allowCreateOnUpdate: false,
    fieldLabels: [],
  }),
  core({
    plural: 'secrets',
    singular: 'secret',
    kind: 'Secret',
    namespaced: true,
    hasStatus: false,
    gracefulDelete: false,
    allowCreateOnUpdate: false,
    fieldLabels: ['type'],
  }),
  core({
    plural: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    hasStatus: true,
    gracefulDelete: false,
    allowCreateOnUpdate: false,
    fieldLabels: ['status.phase'],
  }),
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    singular: 'lease',
    kind: 'Lease',
    namespaced: true,
    hasStatus: false,
    gracefulDelete: false,
    allowCreateOnUpdate: false,
    fieldLabels: [],
  },
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    singular: 'endpointslice',
    kind: 'EndpointSlice',
    namespaced: true,
    hasStatus: false,
    gracefulDelete: false,
    allowCreateOnUpdate: false,
    fieldLabels: ['addressType'],
  },
];

export function apiVersionOf(def: ResourceDef): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

/** The resources a server with these groups disabled serves. */
export class ResourceCatalog {
  readonly resources: readonly ResourceDef[];

  constructor(disabledGroups: readonly string[] = []) {
    const disabled = new Set(disabledGroups);
    this.resources = RESOURCES.filter((r) => !r.group || !disabled.has(r.group));
  }

  /** By plural name, e.g. 'pods' or 'leases' (plurals are unique across the served groups). */
  byPlural(plural: string): ResourceDef | undefined {
    return this.resources.find((r) => r.plural === plural);
  }

  find(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.resources.find((r) => r.group === group && r.version === version && r.plural === plural);
  }

  inGroupVersion(group: string, version: string): ResourceDef[] {
    return this.resources.filter((r) => r.group === group && r.version === version);
  }

  /** Named groups with their versions, in first-seen order. */
  groups(): Array<{ name: string; versions: string[] }> {
    const out: Array<{ name: string; versions: string[] }> = [];
    for (const r of this.resources) {
      if (!r.group) continue;
      const g = out.find((x) => x.name === r.group);
      if (!g) out.push({ name: r.group, versions: [r.version] });
      else if (!g.versions.includes(r.version)) g.versions.push(r.version);
    }
    return out;
  }

  /** The resource a caller names by plural, or a typed error naming what is served. */
  require(plural: string): ResourceDef {
    const def = this.byPlural(plural);
    if (!def) {
      throw new Error(`TestApiServer: resource "${plural}" is not served (served: ${this.resources.map((r) => r.plural).join(', ')})`);
    }
    return def;
  }
}
