// Termination messages, as kubelet handles them: each container instance gets an
// empty file mounted at its terminationMessagePath; once the instance has exited,
// the file's first 4 KiB (or, with FallbackToLogsOnError and a failure, the tail
// of its log) become the message in its terminated state.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Container, Pod } from '../api/types.js';
import type { Mount, Runtime } from '../runtime/runtime.js';
import { joinInside, safeSegment } from '../util/safe-path.js';
import type { RuntimePodSnapshot } from './runtime-pod.js';

const DEFAULT_PATH = '/dev/termination-log';
const MAX_MESSAGE_BYTES = 4096;
const FALLBACK_LOG_LINES = 80;
const MAX_FALLBACK_CHARS = 2048;

export class TerminationMessages {
  /** Messages of exited instances, by container ID (read once per instance). */
  readonly byContainerId = new Map<string, string>();

  constructor(
    private readonly runtime: Pick<Runtime, 'logs'>,
    private readonly podDir: () => string,
  ) {}

  /** Creates the instance's (empty, world-writable) message file and returns its mount. */
  async prepareMount(container: Container, attempt: number): Promise<Mount> {
    const dir = joinInside(this.podDir(), 'containers', safeSegment(container.name, 'container name'));
    await mkdir(dir, { recursive: true });
    const file = joinInside(dir, `termination-log-${attempt}`);
    await writeFile(file, '', { flag: 'w' });
    await chmod(file, 0o666);
    return { containerPath: container.terminationMessagePath ?? DEFAULT_PATH, hostPath: file, readonly: false };
  }

  /** Reads the messages of instances that exited since the last call. */
  async collect(pod: Pod, snap: RuntimePodSnapshot): Promise<void> {
    const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
    for (const c of snap.status.containers) {
      if (c.state !== 'exited' || this.byContainerId.has(c.id)) continue;
      const spec = all.find((s) => s.name === c.metadata.name);
      const mount = c.mounts.find((m) => m.containerPath === (spec?.terminationMessagePath ?? DEFAULT_PATH));
      let message = '';
      if (mount) {
        try {
          message = (await readFile(mount.hostPath)).subarray(0, MAX_MESSAGE_BYTES).toString('utf8');
        } catch {
          /* the pod directory may already be gone */
        }
      }
      if (!message && spec?.terminationMessagePolicy === 'FallbackToLogsOnError' && (c.exitCode ?? 0) !== 0) {
        message = await this.tailLogs(c.id);
      }
      this.byContainerId.set(c.id, message);
    }
  }

  /** Forgets a removed instance. */
  forget(id: string): void {
    this.byContainerId.delete(id);
  }

  private async tailLogs(id: string): Promise<string> {
    try {
      const stream = await this.runtime.logs(id, { tailLines: FALLBACK_LOG_LINES });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
      const text = Buffer.concat(chunks).toString('utf8');
      return text.length > MAX_FALLBACK_CHARS ? text.slice(text.length - MAX_FALLBACK_CHARS) : text;
    } catch {
      return '';
    }
  }
}
