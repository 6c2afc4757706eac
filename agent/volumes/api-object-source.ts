// ConfigMaps and Secrets from the apiserver, the way kubelet's watch-based managers
// read them: one watch per referenced object (fieldSelector metadata.name), so a
// change reaches the pods that use it at once and an object that appears later
// lets a waiting pod start. Watches nobody references any more are stopped.
import { Informer } from '../kube/informer.js';
import type { ListWatchClient } from '../kube/reflector.js';
import type { KubeObject } from '../kube/types.js';
import type { Logger } from '../log/logger.js';
import type { Pod } from '../api/types.js';
import { VolumeError, type KeyedObject, type ObjectSource } from './types.js';

export type ObjectKind = 'configMap' | 'secret';

interface DataObject extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export interface TokenRequester {
  requestToken(pod: Pod, audience: string | undefined, expirationSeconds: number): Promise<string | undefined>;
}

const SYNC_TIMEOUT_MS = 15_000;

export function objectRefKey(kind: ObjectKind, namespace: string, name: string): string {
  return `${kind}:${namespace}/${name}`;
}

/** ConfigMap data is text, binaryData base64; Secret data is base64. */
export function decodeObject(kind: ObjectKind, obj: DataObject): KeyedObject {
  const data: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(obj.data ?? {})) data[k] = Buffer.from(v, kind === 'secret' ? 'base64' : 'utf8');
  for (const [k, v] of Object.entries(obj.binaryData ?? {})) data[k] = Buffer.from(v, 'base64');
  return { data };
}

export class ApiObjectSource implements ObjectSource {
  private readonly watches = new Map<string, Informer<DataObject>>();

  constructor(
    private readonly client: ListWatchClient,
    private readonly logger: Logger,
    /** Called when a watched object is added, changed or deleted. */
    private readonly onChange: (kind: ObjectKind, namespace: string, name: string) => void,
    private readonly tokens?: TokenRequester,
  ) {}

  configMap(namespace: string, name: string): Promise<KeyedObject | undefined> {
    return this.read('configMap', namespace, name);
  }

  secret(namespace: string, name: string): Promise<KeyedObject | undefined> {
    return this.read('secret', namespace, name);
  }

  async serviceAccountToken(pod: Pod, audience: string | undefined, expirationSeconds: number): Promise<string | undefined> {
    return this.tokens?.requestToken(pod, audience, expirationSeconds);
  }

  /** Stops the watches of objects no pod refers to any more. */
  retainOnly(keys: ReadonlySet<string>): void {
    for (const [key, informer] of this.watches) {
      if (keys.has(key)) continue;
      this.watches.delete(key);
      void informer.stop();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.watches.values()].map((i) => i.stop()));
    this.watches.clear();
  }

  private async read(kind: ObjectKind, namespace: string, name: string): Promise<KeyedObject | undefined> {
    const informer = this.watch(kind, namespace, name);
    if (!informer.hasSynced()) {
      const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS);
      try {
        await informer.waitForSync(signal);
      } catch {
        throw new VolumeError(`cannot read ${kind === 'configMap' ? 'configmap' : 'secret'} "${name}" from the apiserver yet (watch not synced)`);
      }
    }
    const obj = informer.get(`${namespace}/${name}`);
    return obj ? decodeObject(kind, obj) : undefined;
  }

  private watch(kind: ObjectKind, namespace: string, name: string): Informer<DataObject> {
    const key = objectRefKey(kind, namespace, name);
    let informer = this.watches.get(key);
    if (informer) return informer;
    const notify = () => this.onChange(kind, namespace, name);
    informer = new Informer<DataObject>({
      client: this.client,
      path: { version: 'v1', resource: kind === 'configMap' ? 'configmaps' : 'secrets', namespace },
      fieldSelector: `metadata.name=${name}`,
      logger: this.logger.child({ watch: key }),
      handlers: { onAdd: notify, onUpdate: notify, onDelete: notify },
    });
    this.watches.set(key, informer);
    informer.start();
    return informer;
  }
}

/** Standalone: there is no apiserver, so every ConfigMap and Secret is "not found". */
export const NO_OBJECTS: ObjectSource = {
  configMap: async () => undefined,
  secret: async () => undefined,
};
