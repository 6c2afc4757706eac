// Pod directory cleanup: tears down the directories (volumes first) of pods that
// are neither known to the pod manager nor in the runtime — pods that went away
// while the agent was down, or whose removal was interrupted. Runs after a relist,
// at most once per cleanup period, never two at a time.
import type { Logger } from '../log/logger.js';
import type { PodStateStore } from '../state/pod-state-store.js';
import type { Clock } from '../api/clock.js';
import type { VolumeManager } from '../volumes/volume-manager.js';

export interface OrphanedPodDirsDeps {
  store: PodStateStore;
  volumes?: Pick<VolumeManager, 'tearDownPod'>;
  clock: Clock;
  logger: Logger;
  periodMs: number;
}

export class OrphanedPodDirs {
  private lastCleanup = 0;
  private running = false;

  constructor(private readonly deps: OrphanedPodDirsDeps) {}

  /**
   * Starts a cleanup in the background when the period has passed. `known`: the pod
   * manager still has the pod (desired, refused or being torn down).
   */
  maybeClean(inRuntime: ReadonlySet<string>, known: (uid: string) => boolean): void {
    const now = this.deps.clock.now();
    if (this.running || now - this.lastCleanup < this.deps.periodMs) return;
    this.lastCleanup = now;
    this.running = true;
    void this.clean(inRuntime, known).finally(() => {
      this.running = false;
    });
  }

  private async clean(inRuntime: ReadonlySet<string>, known: (uid: string) => boolean): Promise<void> {
    const { store, volumes, logger } = this.deps;
    for (const uid of await store.listPodUIDs()) {
      if (known(uid) || inRuntime.has(uid)) continue;
      try {
        await volumes?.tearDownPod(uid);
        await store.removePodDir(uid);
        logger.info({ uid }, 'removed the directory and volumes of a pod no longer on this node');
      } catch (err) {
        logger.warn({ uid, err: (err as Error).message }, 'cannot remove an orphaned pod directory; retrying later');
      }
    }
  }
}
