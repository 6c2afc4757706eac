// A fake of the apiserver's pods for status-manager and mirror-pod unit tests:
// objects in memory, strategic merge patches applied with the test apiserver's own
// engine, UID preconditions, graceful-deletion marks, injected failures, a request
// log, and an ApiPodCache view that is always up to date (or frozen on demand).
import type { Pod } from '../../../agent/api/types.js';
import type { CallOptions, PatchType } from '../../../agent/kube/client.js';
import { ApiError } from '../../../agent/kube/errors.js';
import type { DeleteOptions } from '../../../agent/kube/types.js';
import type { ApiPodCache } from '../../../agent/status/api-pod-cache.js';
import { applyPatch } from '../../support/apiserver/patch.js';

export interface FakeRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  patchType?: PatchType;
}

const POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?(?:\/(status))?$/;

function apiError(method: string, path: string, code: number, reason: string, message = reason): ApiError {
  return new ApiError({ method, path, code, status: { kind: 'Status', status: 'Failure', code, reason, message } });
}

export class FakePodApi implements ApiPodCache {
  readonly requests: FakeRequest[] = [];
  private readonly pods = new Map<string, Pod>();
  private rv = 100;
  private uidSeq = 0;
  private readonly failures: Array<{ method?: string; error: () => Error }> = [];
  private readonly listeners = new Set<(pod: Pod, deleted: boolean) => void>();
  /** While set, requests wait for it (to test updates arriving mid-flight). */
  gate: Promise<void> | undefined;
  /** Frozen informer view (simulates a lagging watch). */
  private frozen: Map<string, Pod> | undefined;

  add(pod: Pod): Pod {
    const copy = structuredClone(pod);
    copy.metadata.namespace ??= 'default';
    copy.metadata.uid ??= `uid-${++this.uidSeq}`;
    copy.metadata.resourceVersion = String(++this.rv);
    this.pods.set(`${copy.metadata.namespace}/${copy.metadata.name}`, copy);
    this.notify(copy, false);
    return structuredClone(copy);
  }

  /** Changes an object directly (another writer), notifying the cache listeners. */
  mutate(namespace: string, name: string, fn: (pod: Pod) => void): Pod {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`no pod ${namespace}/${name}`);
    fn(pod);
    pod.metadata.resourceVersion = String(++this.rv);
    this.notify(pod, false);
    return structuredClone(pod);
  }

  remove(namespace: string, name: string): void {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) return;
    this.pods.delete(`${namespace}/${name}`);
    this.notify(pod, true);
  }

  stored(namespace: string, name: string): Pod | undefined {
    const p = this.pods.get(`${namespace}/${name}`);
    return p ? structuredClone(p) : undefined;
  }

  failNext(error: () => Error, method?: string): void {
    this.failures.push({ ...(method ? { method } : {}), error });
  }

  freezeCache(): void {
    this.frozen = new Map([...this.pods].map(([k, v]) => [k, structuredClone(v)]));
  }

  unfreezeCache(): void {
    this.frozen = undefined;
  }

  count(method: FakeRequest['method'], pathPart = ''): number {
    return this.requests.filter((r) => r.method === method && r.path.includes(pathPart)).length;
  }

  // ---- ApiPodCache ----
  getPod(namespace: string, name: string): Pod | undefined {
    const p = (this.frozen ?? this.pods).get(`${namespace}/${name}`);
    return p ? structuredClone(p) : undefined;
  }

  onPodChange(listener: (pod: Pod, deleted: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  hasSynced(): boolean {
    return true;
  }

  // ---- the client ----
  async get<T>(path: string, _options?: CallOptions): Promise<T> {
    this.requests.push({ method: 'GET', path });
    await this.before('GET');
    const m = POD_PATH.exec(path);
    const pod = m ? this.pods.get(`${m[1]}/${m[2]}`) : undefined;
    if (!pod) throw apiError('GET', path, 404, 'NotFound', `pods "${m?.[2]}" not found`);
    return structuredClone(pod) as T;
  }

  async create<T>(path: string, body: unknown, _options?: CallOptions): Promise<T> {
    this.requests.push({ method: 'POST', path, body: structuredClone(body) });
    await this.before('POST');
    const pod = structuredClone(body) as Pod;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (this.pods.has(key)) throw apiError('POST', path, 409, 'AlreadyExists', `pods "${pod.metadata.name}" already exists`);
    return this.add({ ...pod, metadata: { ...pod.metadata, uid: `uid-${++this.uidSeq}` } }) as T;
  }

  async patch<T>(path: string, patch: unknown, type: PatchType, _options?: CallOptions): Promise<T> {
    this.requests.push({ method: 'PATCH', path, body: structuredClone(patch), patchType: type });
    await this.before('PATCH');
    const m = POD_PATH.exec(path);
    const key = `${m?.[1]}/${m?.[2]}`;
    const old = this.pods.get(key);
    if (!old) throw apiError('PATCH', path, 404, 'NotFound');
    const uid = (patch as { metadata?: { uid?: string } }).metadata?.uid;
    if (uid && uid !== old.metadata.uid) throw apiError('PATCH', path, 409, 'Conflict', 'Precondition failed: UID');
    const next = applyPatch('Pod', structuredClone(old), type, patch) as Pod;
    if (m?.[3] === 'status') {
      const updated = structuredClone(old);
      updated.status = next.status;
      updated.metadata.resourceVersion = String(++this.rv);
      this.pods.set(key, updated);
      this.notify(updated, false);
      return structuredClone(updated) as T;
    }
    next.metadata.resourceVersion = String(++this.rv);
    this.pods.set(key, next);
    this.notify(next, false);
    return structuredClone(next) as T;
  }

  async delete<T>(path: string, options: DeleteOptions & CallOptions = {}): Promise<T> {
    this.requests.push({ method: 'DELETE', path, body: { gracePeriodSeconds: options.gracePeriodSeconds, preconditions: options.preconditions } });
    await this.before('DELETE');
    const m = POD_PATH.exec(path);
    const key = `${m?.[1]}/${m?.[2]}`;
    const pod = this.pods.get(key);
    if (!pod) throw apiError('DELETE', path, 404, 'NotFound');
    if (options.preconditions?.uid && options.preconditions.uid !== pod.metadata.uid) {
      throw apiError('DELETE', path, 409, 'Conflict', 'Precondition failed: UID');
    }
    this.pods.delete(key);
    this.notify(pod, true);
    return structuredClone(pod) as T;
  }

  private async before(method: string): Promise<void> {
    if (this.gate) await this.gate;
    const i = this.failures.findIndex((f) => f.method === undefined || f.method === method);
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      throw f!.error();
    }
  }

  private notify(pod: Pod, deleted: boolean): void {
    if (this.frozen) return;
    for (const l of [...this.listeners]) l(structuredClone(pod), deleted);
  }
}

export function serverError(): ApiError {
  return apiError('PATCH', '/api/v1/namespaces/default/pods/x/status', 500, 'InternalError', 'injected');
}
