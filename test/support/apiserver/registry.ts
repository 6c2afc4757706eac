// The REST semantics of the served resources over the object store: create with
// server-set metadata and defaults, update and patch with optimistic concurrency
// and UID preconditions, status-subresource isolation, no-op writes that change
// nothing, and (graceful) deletion. Used by the HTTP routes and by the test helpers.
import { randomInt, randomUUID } from 'node:crypto';
import { decideDeletion } from './graceful-delete.js';
import { ApiError, alreadyExists, badRequest, conflict, internalError, namespaceNotFound, notFound, preconditionFailed } from './errors.js';
import { prepareForCreate } from './defaults.js';
import { clone, deepEqual, isMap } from './json-value.js';
import { applyPatch, type PatchType } from './patch.js';
import { MalformedPatchError, PatchApplyError } from './patch-errors.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import type { KubeObject, ObjectStore, StoredMeta } from './store.js';
import { formatTime, normalizeTimes } from './time-fields.js';
import { validateObject } from './validation.js';

export interface DeleteOptions {
  gracePeriodSeconds?: number | null;
  preconditions?: { uid?: string | null; resourceVersion?: string | null } | null;
  propagationPolicy?: string;
}

export interface RegistryOptions {
  now: () => Date;
  /** Refuse objects in a namespace that does not exist (the NamespaceLifecycle admission plugin). */
  enforceNamespaces: boolean;
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
/** Server-owned metadata an update of the main resource cannot change. */
const PRESERVED_META = ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'name', 'namespace'] as const;

export class Registry {
  constructor(
    private readonly store: ObjectStore,
    private readonly options: RegistryOptions,
  ) {}

  find(def: ResourceDef, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(def.plural, scoped(def, namespace), name);
  }

  get(def: ResourceDef, namespace: string | undefined, name: string): KubeObject {
    const o = this.find(def, namespace, name);
    if (!o) throw notFound(def, name);
    return o;
  }

  create(def: ResourceDef, namespace: string | undefined, body: unknown): KubeObject {
    const o = decode(def, body);
    const meta = o.metadata;
    placeInNamespace(def, namespace, meta);
    if (meta.resourceVersion) throw internalError('resourceVersion should not be set on objects to be created');
    if (this.options.enforceNamespaces && def.namespaced && !this.store.get('namespaces', undefined, meta.namespace!)) {
      throw namespaceNotFound(meta.namespace!);
    }
    if (!meta.name && typeof meta.generateName === 'string' && meta.generateName) {
      meta.name = this.generateName(def, meta.namespace, meta.generateName);
    }
    meta.uid = randomUUID();
    meta.creationTimestamp = formatTime(this.options.now());
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    prepareForCreate(def.kind, o);
    normalizeTimes(def.kind, apiVersionOf(def), o);
    validateObject(def, o);
    if (this.store.get(def.plural, meta.namespace, meta.name)) throw alreadyExists(def, meta.name);
    return this.store.put(def.plural, o);
  }

  /** PUT: replaces the object (or only its status); `created` when the kind creates on update. */
  update(def: ResourceDef, namespace: string | undefined, name: string, body: unknown, subresource?: 'status'): { object: KubeObject; created: boolean } {
    const o = decode(def, body);
    if (o.metadata.name !== name) {
      throw badRequest(`the name of the object (${o.metadata.name ?? ''}) does not match the name on the URL (${name})`);
    }
    placeInNamespace(def, namespace, o.metadata);
    const old = this.find(def, namespace, name);
    if (!old) {
      if (def.allowCreateOnUpdate && !subresource && !o.metadata.resourceVersion) {
        return { object: this.create(def, namespace, o), created: true };
      }
      throw notFound(def, name);
    }
    return { object: this.replace(def, old, o, subresource), created: false };
  }

  patch(def: ResourceDef, namespace: string | undefined, name: string, type: PatchType, patch: unknown, subresource?: 'status'): KubeObject {
    const old = this.get(def, namespace, name);
    let patched: unknown;
    try {
      patched = applyPatch(def.kind, clone(old), type, patch);
    } catch (err) {
      if (err instanceof MalformedPatchError) throw badRequest(`invalid ${type} patch for ${def.plural} "${name}": ${err.message}`);
      if (err instanceof PatchApplyError) throw new ApiError(422, 'Invalid', `the ${type} patch for ${def.plural} "${name}" does not apply: ${err.message}`);
      throw err;
    }
    const o = decode(def, patched);
    if (o.metadata.name !== undefined && o.metadata.name !== name) {
      throw badRequest(`the name of the object (${String(o.metadata.name)}) does not match the name on the URL (${name})`);
    }
    o.metadata.name = name;
    placeInNamespace(def, namespace, o.metadata);
    return this.replace(def, old, o, subresource);
  }

  delete(def: ResourceDef, namespace: string | undefined, name: string, options: DeleteOptions = {}): KubeObject {
    const old = this.get(def, namespace, name);
    const pre = options.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata.uid) throw preconditionFailed(def, name, 'UID', pre.uid, old.metadata.uid);
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw preconditionFailed(def, name, 'ResourceVersion', pre.resourceVersion, old.metadata.resourceVersion);
    }
    let grace = options.gracePeriodSeconds ?? undefined;
    if (grace !== undefined && !Number.isInteger(grace)) throw badRequest(`gracePeriodSeconds must be an integer, got ${grace}`);
    // Negative values are treated as 1 s on the delete path.
    if (grace !== undefined && grace < 0) grace = 1;
    const decision = decideDeletion(old, def.gracefulDelete, grace, this.options.now());
    const ns = scoped(def, namespace);
    switch (decision.action) {
      case 'pending':
        return old;
      case 'remove':
        return this.store.remove(def.plural, ns, name)!;
      case 'mark': {
        const next = clone(old);
        next.metadata.deletionTimestamp = decision.deletionTimestamp;
        next.metadata.deletionGracePeriodSeconds = decision.deletionGracePeriodSeconds;
        // As the real registry, the mark is written (a MODIFIED event) even when it is removed right after.
        const written = deepEqual(next, old) ? old : this.store.put(def.plural, next);
        if (decision.deletionGracePeriodSeconds === 0) return this.store.remove(def.plural, ns, name)!;
        return written;
      }
    }
  }

  /** Writes `incoming` over `old` with the update rules; a write that changes nothing is not a write. */
  private replace(def: ResourceDef, old: KubeObject, incoming: KubeObject, subresource: 'status' | undefined): KubeObject {
    const name = old.metadata.name;
    const rv = incoming.metadata.resourceVersion;
    if (rv && rv !== old.metadata.resourceVersion) throw conflict(def, name);
    const uid = incoming.metadata.uid;
    if (uid && uid !== old.metadata.uid) throw preconditionFailed(def, name, 'UID', uid, old.metadata.uid);
    let next: KubeObject;
    if (subresource === 'status') {
      next = clone(old);
      if (incoming.status === undefined) delete next.status;
      else next.status = clone(incoming.status);
    } else {
      next = clone(incoming);
      if (def.hasStatus) {
        if (old.status === undefined) delete next.status;
        else next.status = clone(old.status);
      }
      const meta = next.metadata as Record<string, unknown>;
      for (const k of PRESERVED_META) {
        const v = (old.metadata as Record<string, unknown>)[k];
        if (v === undefined) delete meta[k];
        else meta[k] = v;
      }
    }
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    normalizeTimes(def.kind, apiVersionOf(def), next);
    validateObject(def, next);
    if (deepEqual(next, old)) return old;
    return this.store.put(def.plural, next);
  }

  private generateName(def: ResourceDef, namespace: string | undefined, prefix: string): string {
    for (;;) {
      let suffix = '';
      for (let i = 0; i < 5; i++) suffix += GENERATE_ALPHABET[randomInt(GENERATE_ALPHABET.length)];
      const name = prefix + suffix;
      if (!this.store.get(def.plural, namespace, name)) return name;
    }
  }
}

function scoped(def: ResourceDef, namespace: string | undefined): string | undefined {
  return def.namespaced ? namespace : undefined;
}

/** A plain-JSON copy of a request body as a `def` object, kind and apiVersion checked and set. */
function decode(def: ResourceDef, body: unknown): KubeObject {
  if (!isMap(body)) throw badRequest(`the request body must be a ${def.kind} object`);
  const o = clone(body);
  const apiVersion = apiVersionOf(def);
  if ((o.kind !== undefined && o.kind !== def.kind) || (o.apiVersion !== undefined && o.apiVersion !== apiVersion)) {
    throw badRequest(
      `${String(o.kind)} in version "${String(o.apiVersion)}" cannot be handled as a ${def.kind} (expected kind "${def.kind}", apiVersion "${apiVersion}")`,
    );
  }
  if (o.metadata !== undefined && !isMap(o.metadata)) throw badRequest(`${def.kind}.metadata must be an object`);
  o.kind = def.kind;
  o.apiVersion = apiVersion;
  o.metadata ??= {};
  return o as KubeObject;
}

/** Sets the object's namespace from the request's, refusing a body that names another. */
function placeInNamespace(def: ResourceDef, namespace: string | undefined, meta: StoredMeta): void {
  if (!def.namespaced) {
    delete meta.namespace;
    return;
  }
  if (!namespace) throw badRequest(`${def.plural} are namespaced: the request must name a namespace`);
  if (meta.namespace && meta.namespace !== namespace) {
    throw badRequest(`the namespace of the provided object (${meta.namespace}) does not match the namespace sent on the request (${namespace})`);
  }
  meta.namespace = namespace;
}
