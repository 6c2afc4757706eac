// The ConfigMaps and Secrets a pod's environment reads, fetched once before its
// containers' configurations are built (makeEnvironment looks them up synchronously).
import type { Pod } from '../api/types.js';
import { podEnvReferences } from '../volumes/object-references.js';
import type { KeyedObject, ObjectSource } from '../volumes/types.js';
import type { KeyValueSource } from './container-config.js';

export interface EnvObjects {
  configMaps: KeyValueSource;
  secrets: KeyValueSource;
}

function asStrings(obj: KeyedObject): Record<string, string> {
  return Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, v.toString('utf8')]));
}

export async function loadEnvObjects(pod: Pod, objects: ObjectSource): Promise<EnvObjects> {
  const ns = pod.metadata.namespace ?? 'default';
  const configMaps = new Map<string, Record<string, string>>();
  const secrets = new Map<string, Record<string, string>>();
  await Promise.all(
    podEnvReferences(pod).map(async (ref) => {
      const target = ref.kind === 'configMap' ? configMaps : secrets;
      if (target.has(ref.name)) return;
      const obj = ref.kind === 'configMap' ? await objects.configMap(ns, ref.name) : await objects.secret(ns, ref.name);
      if (obj) target.set(ref.name, asStrings(obj));
    }),
  );
  return { configMaps: (name) => configMaps.get(name), secrets: (name) => secrets.get(name) };
}
