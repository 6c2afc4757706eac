// The strategic-merge facts of the v1 types (their `patchStrategy`/`patchMergeKey`
// struct tags), by field path with list elements elided: `spec.containers.env`
// is the env list of any container. A path absent here is a list that replaces.

export interface ListStrategy {
  /** Elements are maps merged by this key; absent for a list of scalars merged as a set. */
  mergeKey?: string;
}

export type MergeSchema = Readonly<Record<string, ListStrategy>>;

const METADATA: MergeSchema = {
  'metadata.ownerReferences': { mergeKey: 'uid' },
  'metadata.finalizers': {},
};

function containerLists(prefix: string): Record<string, ListStrategy> {
  return {
    [prefix]: { mergeKey: 'name' },
    [`${prefix}.env`]: { mergeKey: 'name' },
    [`${prefix}.ports`]: { mergeKey: 'containerPort' },
    [`${prefix}.volumeMounts`]: { mergeKey: 'mountPath' },
    [`${prefix}.volumeDevices`]: { mergeKey: 'devicePath' },
  };
}

const POD: MergeSchema = {
  ...METADATA,
  ...containerLists('spec.containers'),
  ...containerLists('spec.initContainers'),
  ...containerLists('spec.ephemeralContainers'),
  'spec.volumes': { mergeKey: 'name' },
  'spec.imagePullSecrets': { mergeKey: 'name' },
  'spec.hostAliases': { mergeKey: 'ip' },
  'status.conditions': { mergeKey: 'type' },
  'status.containerStatuses': { mergeKey: 'name' },
  'status.initContainerStatuses': { mergeKey: 'name' },
  'status.ephemeralContainerStatuses': { mergeKey: 'name' },
  'status.podIPs': { mergeKey: 'ip' },
  'status.hostIPs': { mergeKey: 'ip' },
  'status.resourceClaimStatuses': { mergeKey: 'name' },
};

const NODE: MergeSchema = {
  ...METADATA,
  'status.conditions': { mergeKey: 'type' },
  'status.addresses': { mergeKey: 'type' },
};

const SERVICE: MergeSchema = {
  ...METADATA,
  'spec.ports': { mergeKey: 'port' },
};

const NAMESPACE: MergeSchema = {
  ...METADATA,
  'status.conditions': { mergeKey: 'type' },
};

const BY_KIND: Record<string, MergeSchema> = { Pod: POD, Node: NODE, Service: SERVICE, Namespace: NAMESPACE };

export function mergeSchemaFor(kind: string): MergeSchema {
  return BY_KIND[kind] ?? METADATA;
}
