// Decides, per container start, whether an image must be pulled (imagePullPolicy),
// pulls it once for all pods that want it at the same time, and turns failures into
// the waiting reasons kubelet reports: ErrImagePull, ImagePullBackOff,
// ErrImageNeverPull, InvalidImageName.
import type { Container, Pod } from '../api/types.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { ImageInfo, Runtime } from '../runtime/runtime.js';
import { isRuntimeError } from '../runtime/errors.js';
import { normalizeImageReference, parseImageReference } from '../runtime/image-reference.js';
import { Backoff } from '../api/backoff.js';
import type { Clock } from '../api/clock.js';

export type ImageErrorReason = 'ErrImagePull' | 'ImagePullBackOff' | 'ErrImageNeverPull' | 'InvalidImageName';

export class ImageError extends Error {
  constructor(
    readonly reason: ImageErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

/** Kubernetes' default: `:latest` or no tag pulls Always, anything else IfNotPresent. */
export function effectivePullPolicy(container: Container): 'Always' | 'IfNotPresent' | 'Never' {
  if (container.imagePullPolicy) return container.imagePullPolicy;
  const ref = container.image ?? '';
  if (ref.includes('@')) return 'IfNotPresent';
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export class ImageManager {
  private readonly pulls = new Map<string, Promise<ImageInfo>>();
  private readonly backoff: Backoff;

  constructor(
    private readonly runtime: Runtime,
    private readonly events: EventRecorder,
    private readonly clock: Clock,
    /** Images the agent can make itself (the local pause/busybox): never pulled. */
    private readonly isLocalImage: (ref: string) => boolean = () => false,
  ) {
    this.backoff = new Backoff({ initialMs: 10_000, maxMs: 300_000 }, clock);
  }

  /** Returns the image's id to create the container from, or throws ImageError. */
  async ensureImage(pod: Pod, container: Container): Promise<string> {
    const raw = container.image ?? '';
    try {
      parseImageReference(raw);
    } catch (err) {
      throw new ImageError('InvalidImageName', `Failed to apply default image tag "${raw}": ${(err as Error).message}`);
    }
    const ref = normalizeImageReference(raw);
    const policy = effectivePullPolicy(container);
    const present = await this.runtime.imageStatus(ref);
    const mustPull = policy === 'Always' ? !this.isLocalImage(ref) : !present;
    if (!mustPull && present) return present.id;
    if (policy === 'Never') {
      throw new ImageError('ErrImageNeverPull', `Container image "${raw}" is not present with pull policy of Never`);
    }
    const key = `${pod.metadata.uid}/${ref}`;
    const last = this.lastFailure.get(key);
    if (last !== undefined && this.backoff.isInBackOff(key, last)) {
      const msg = `Back-off pulling image "${raw}"`;
      this.events.record(pod, 'Normal', 'BackOff', msg);
      throw new ImageError('ImagePullBackOff', msg);
    }
    this.events.record(pod, 'Normal', 'Pulling', `Pulling image "${raw}"`);
    const started = this.clock.now();
    try {
      const info = await this.pullOnce(ref);
      this.lastFailure.delete(key);
      this.backoff.reset(key);
      this.events.record(pod, 'Normal', 'Pulled', `Successfully pulled image "${raw}" in ${this.clock.now() - started}ms`);
      return info.id;
    } catch (err) {
      if (present && policy === 'Always' && isRuntimeError(err, 'RuntimeUnavailable')) throw err;
      this.backoff.next(key);
      this.lastFailure.set(key, this.clock.now());
      const msg = `Failed to pull image "${raw}": ${(err as Error).message}`;
      this.events.record(pod, 'Warning', 'Failed', msg);
      throw new ImageError('ErrImagePull', msg);
    }
  }

  private readonly lastFailure = new Map<string, number>();

  private pullOnce(ref: string): Promise<ImageInfo> {
    let p = this.pulls.get(ref);
    if (!p) {
      p = this.runtime.pullImage(ref).finally(() => this.pulls.delete(ref));
      this.pulls.set(ref, p);
    }
    return p;
  }
}
