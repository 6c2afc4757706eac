// Captured exec output with a ceiling: a runaway command must not exhaust the
// agent's memory, whichever exec path (Docker's API or the native helper) ran it.

export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Keeps the first `limit` bytes and drops the rest. */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}

  add(data: Buffer): void {
    if (this.size >= this.limit) return;
    const take = data.length <= this.limit - this.size ? data : data.subarray(0, this.limit - this.size);
    this.chunks.push(take);
    this.size += take.length;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}
