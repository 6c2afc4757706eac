// Several pod sources (static manifests, the apiserver) seen as one. Every source
// delivers full snapshots, so the merged snapshot is their concatenation. Nothing
// is delivered until every source has delivered once: a partial first snapshot
// would look to the pod manager as if the other sources' pods were gone, and it
// would kill them (after an agent restart, the apiserver's pods with the
// apiserver still unreachable).
import type { Logger } from '../log/logger.js';
import type { PodSource, PodSourceUpdate } from './types.js';

export interface NamedPodSource {
  /** Shown in logs: 'file', 'api'. */
  name: string;
  source: PodSource;
}

export class MergedPodSource implements PodSource {
  private readonly latest = new Map<string, PodSourceUpdate>();
  private onUpdate: ((update: PodSourceUpdate) => void) | undefined;
  private stopped = false;

  constructor(
    private readonly sources: readonly NamedPodSource[],
    private readonly logger: Logger,
  ) {
    const names = new Set(sources.map((s) => s.name));
    if (names.size !== sources.length) throw new Error(`merged pod source: source names must be unique, got ${sources.map((s) => s.name).join(', ')}`);
  }

  /** Resolves once every source delivered its first snapshot and the first merged one was delivered. */
  async start(onUpdate: (update: PodSourceUpdate) => void): Promise<void> {
    if (this.onUpdate) throw new Error('merged pod source already started');
    this.onUpdate = onUpdate;
    await Promise.all(
      this.sources.map(({ name, source }) =>
        source.start((update) => {
          this.latest.set(name, update);
          this.deliver();
        }),
      ),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.sources.map(({ source }) => source.stop()));
  }

  private deliver(): void {
    if (this.stopped || this.latest.size < this.sources.length) return;
    const pods: PodSourceUpdate['pods'] = [];
    const rejected: PodSourceUpdate['rejected'] = [];
    const seen = new Map<string, string>();
    for (const { name } of this.sources) {
      const update = this.latest.get(name);
      if (!update) continue;
      for (const pod of update.pods) {
        const uid = pod.metadata.uid ?? '';
        const first = seen.get(uid);
        if (first !== undefined) {
          // UIDs identify pods to the pod manager; a second pod with the same one would replace the first.
          this.logger.warn(
            { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid, source: name, firstSource: first },
            'pod UID already delivered by another source; ignoring this copy',
          );
          continue;
        }
        seen.set(uid, name);
        pods.push(pod);
      }
      rejected.push(...update.rejected);
    }
    try {
      this.onUpdate?.({ pods, rejected });
    } catch (err) {
      this.logger.error({ err }, 'pod update handler failed');
    }
  }
}
