// The contract between the pod worker and the volume kinds. Each kind (emptyDir,
// hostPath, configMap, secret, downwardAPI, projected) lives in its own file and
// implements VolumeKind; the VolumeManager picks the kind, owns the per-pod
// directory layout and turns volumeMounts into runtime mounts.
import type { NodeAllocatable } from '../api/resource-field-ref.js';
import type { Pod, Volume } from '../api/types.js';

/** A ConfigMap or Secret as the volume layer sees it: decoded bytes per key. */
export interface KeyedObject {
  /** Every key with its (for Secrets: base64-decoded) bytes; binaryData included. */
  data: Record<string, Buffer>;
}

/**
 * Reads the ConfigMaps and Secrets a pod refers to. `undefined` = does not exist
 * (or, standalone, there is no apiserver at all); a transport failure throws.
 */
export interface ObjectSource {
  configMap(namespace: string, name: string): Promise<KeyedObject | undefined>;
  secret(namespace: string, name: string): Promise<KeyedObject | undefined>;
  /** A service account token for a projected volume, or undefined when the server cannot issue one. */
  serviceAccountToken?(pod: Pod, audience: string | undefined, expirationSeconds: number): Promise<string | undefined>;
}

export interface VolumeSetUpContext {
  pod: Pod;
  volume: Volume;
  /** `<root>/pods/<uid>/volumes/<kind>/<name>`; its parent exists, the directory itself may not. */
  dir: string;
  objects: ObjectSource;
  nodeName: string;
  nodeAllocatable?: NodeAllocatable;
  /** tmpfs size for `emptyDir.medium: Memory` without sizeLimit. */
  defaultMemoryVolumeBytes: number;
}

/** What the container bind-mounts for a volume. */
export interface MountedVolume {
  /** Host path to bind (the volume root; subPaths are resolved beneath it). */
  hostPath: string;
  /** The kind always mounts read-only (configMap, secret, downwardAPI, projected). */
  readOnly: boolean;
  /** Whether the content may change while the pod runs (re-set up on every sync). */
  dynamic: boolean;
}

export interface VolumeKind {
  /** The Volume field this kind handles: 'emptyDir', 'hostPath', 'configMap', ... */
  readonly kind: string;
  /**
   * Makes the volume ready (idempotent: called again on every pod sync for dynamic
   * kinds, where it refreshes the content and must write nothing when nothing changed).
   * Throws VolumeError when the volume cannot be set up.
   */
  setUp(ctx: VolumeSetUpContext): Promise<MountedVolume>;
  /** Removes what setUp made under `dir` (unmounting a tmpfs first). Never touches a hostPath. */
  tearDown(dir: string): Promise<void>;
}

/**
 * A volume that cannot be set up. The message names the pod's volume and what is
 * wrong, for the FailedMount event and the containers' waiting message.
 */
export class VolumeError extends Error {
  constructor(
    message: string,
    /** FailedMount: retry later (object missing, type mismatch); the pod stays ContainerCreating. */
    readonly reason: 'FailedMount' = 'FailedMount',
  ) {
    super(message);
    this.name = 'VolumeError';
  }
}
