// A credential file that is re-read when it changes on disk: rotated service
// account tokens (written by an atomic symlink swap) and renewed client
// certificates take effect without restarting the agent. A file that vanishes or
// is empty for a moment mid-rotation keeps serving the last good content.
import { readFile, stat } from 'node:fs/promises';
import { CredentialError } from './errors.js';

interface Snapshot {
  content: Buffer;
  version: string;
}

export class ReloadingFile {
  private last: Snapshot | undefined;
  private forceReload = false;

  /** `what` names the file for errors, e.g. `kubeconfig /etc/kc: users["node"].user.tokenFile`. */
  constructor(
    readonly path: string,
    private readonly what: string,
  ) {}

  /** The file's content, read again only when its inode, size or times changed. */
  async read(): Promise<Buffer> {
    let version: string;
    try {
      const st = await stat(this.path);
      version = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (err) {
      return this.fallback(`cannot stat ${this.path}: ${(err as Error).message}`, err);
    }
    if (this.last && !this.forceReload && this.last.version === version) return this.last.content;
    let content: Buffer;
    try {
      content = await readFile(this.path);
    } catch (err) {
      return this.fallback(`cannot read ${this.path}: ${(err as Error).message}`, err);
    }
    if (content.toString('utf8').trim() === '') return this.fallback(`${this.path} is empty`);
    this.last = { content, version };
    this.forceReload = false;
    return content;
  }

  /** The server refused what was read: read the file again next time even if it looks unchanged. */
  invalidate(): void {
    this.forceReload = true;
  }

  private fallback(problem: string, cause?: unknown): Buffer {
    if (this.last) return this.last.content;
    throw new CredentialError(`${this.what}: ${problem}`, { cause });
  }
}
