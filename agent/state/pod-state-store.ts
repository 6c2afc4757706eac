// What the agent remembers outside the runtime: per pod, the desired pod object and
// the status it last computed, under <root>/pods/<uid>/. The CLI reads the same
// files, so `nodelet pods` answers even while the agent is down.
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import type { Pod, PodStatus } from '../api/types.js';
import type { RejectedManifest } from '../sources/types.js';
import { joinInside, safeSegment } from '../util/safe-path.js';
import { removeTreeSafely } from '../volumes/safe-remove.js';

async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, path);
}

/** The pod object with the status the agent last computed (absent before its first sync). */
function assemblePod(podText: string | undefined, statusText: string | undefined): Pod | undefined {
  if (podText === undefined) return undefined;
  try {
    const pod = JSON.parse(podText) as Pod;
    if (statusText !== undefined) {
      try {
        pod.status = JSON.parse(statusText) as PodStatus;
      } catch {
        /* a torn status is ignored: the next sync rewrites it */
      }
    }
    return pod;
  } catch {
    return undefined;
  }
}

export class PodStateStore {
  constructor(readonly rootDir: string) {}

  podDir(uid: string): string {
    return joinInside(this.rootDir, 'pods', safeSegment(uid, 'pod UID'));
  }

  async ensurePodDir(uid: string): Promise<string> {
    const dir = this.podDir(uid);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    return dir;
  }

  async savePod(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    const dir = await this.ensurePodDir(uid);
    const { status: _status, ...spec } = pod;
    await writeAtomic(joinInside(dir, 'pod.json'), JSON.stringify(spec));
  }

  async saveStatus(uid: string, status: PodStatus): Promise<void> {
    const dir = await this.ensurePodDir(uid);
    await writeAtomic(joinInside(dir, 'status.json'), JSON.stringify(status));
  }

  /** Per-container probe results, for `nodelet inspect`. */
  async saveProbeResults(uid: string, results: unknown): Promise<void> {
    const dir = await this.ensurePodDir(uid);
    await writeAtomic(joinInside(dir, 'probes.json'), JSON.stringify(results));
  }

  loadProbeResultsSync(uid: string): unknown {
    try {
      return JSON.parse(readFileSync(joinInside(this.podDir(uid), 'probes.json'), 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** Node-wide state files (probe latency summary and the like) under <root>/state. */
  async saveStateFile(name: string, value: unknown): Promise<void> {
    const dir = joinInside(this.rootDir, 'state');
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await writeAtomic(joinInside(dir, safeSegment(name, 'state file')), JSON.stringify(value));
  }

  async loadPod(uid: string): Promise<Pod | undefined> {
    const dir = this.podDir(uid);
    const read = (name: string) => readFile(joinInside(dir, name), 'utf8').catch(() => undefined);
    const [pod, status] = await Promise.all([read('pod.json'), read('status.json')]);
    return assemblePod(pod, status);
  }

  /** Synchronous read for the CLI. */
  loadPodSync(uid: string): Pod | undefined {
    const dir = this.podDir(uid);
    const read = (name: string) => {
      try {
        return readFileSync(joinInside(dir, name), 'utf8');
      } catch {
        return undefined;
      }
    };
    return assemblePod(read('pod.json'), read('status.json'));
  }

  async listPodUIDs(): Promise<string[]> {
    try {
      return (await readdir(joinInside(this.rootDir, 'pods'))).filter((n) => !n.startsWith('.'));
    } catch {
      return [];
    }
  }

  listPodUIDsSync(): string[] {
    try {
      return readdirSync(joinInside(this.rootDir, 'pods')).filter((n) => !n.startsWith('.'));
    } catch {
      return [];
    }
  }

  /**
   * Removes a pod's directory; only called once its containers and sandbox are gone.
   * Anything still mounted beneath it is unmounted first and no symlink is followed,
   * so a leftover bind of a hostPath can never lose the host's files.
   */
  async removePodDir(uid: string): Promise<void> {
    await removeTreeSafely(this.podDir(uid));
  }

  async saveRejected(rejected: RejectedManifest[]): Promise<void> {
    const dir = joinInside(this.rootDir, 'state');
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await writeAtomic(joinInside(dir, 'rejected.json'), JSON.stringify(rejected));
  }

  loadRejectedSync(): RejectedManifest[] {
    try {
      return JSON.parse(readFileSync(joinInside(this.rootDir, 'state', 'rejected.json'), 'utf8')) as RejectedManifest[];
    } catch {
      return [];
    }
  }
}
