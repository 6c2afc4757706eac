// A small JSON file of the proxy's own state (its ClusterIP and node-port allocations):
// read once at start, rewritten only when its text changes, through a temporary file
// renamed into place so a crash never leaves a torn file, one write at a time.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../log/logger.js';

export class JsonStateFile {
  private savedText?: string;
  private saving: Promise<void> = Promise.resolve();

  /** `what` names the contents in log lines ("the remembered ClusterIPs"). */
  constructor(
    readonly file: string,
    private readonly what: string,
    private readonly log?: Logger,
  ) {}

  /** The parsed contents; undefined when the file is missing, unreadable or not JSON (logged). */
  async read(): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log?.warn({ file: this.file, err: (err as Error).message }, `cannot read ${this.what}; allocating afresh`);
      }
      return undefined;
    }
    try {
      const value: unknown = JSON.parse(text);
      this.savedText = text;
      return value;
    } catch (err) {
      this.log?.warn({ file: this.file, err: (err as Error).message }, `${this.what} are not valid JSON; allocating afresh`);
      return undefined;
    }
  }

  /** Writes `value` if its text differs from what the file holds. */
  write(value: unknown): Promise<void> {
    const run = this.saving.then(() => this.writeIfChanged(`${JSON.stringify(value, null, 2)}\n`));
    this.saving = run.catch(() => undefined);
    return run;
  }

  private async writeIfChanged(text: string): Promise<void> {
    if (text === this.savedText) return;
    await mkdir(dirname(this.file), { recursive: true, mode: 0o750 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    await writeFile(tmp, text, { mode: 0o640 });
    await rename(tmp, this.file);
    this.savedText = text;
  }
}
