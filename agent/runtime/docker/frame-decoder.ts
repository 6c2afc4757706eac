// Docker's multiplexed stream format (logs and exec of a container without a TTY):
// frames of an 8-byte header [stream, 0, 0, 0, size (uint32 BE)] and `size` bytes of
// payload. dockerode's demuxStream never ends its targets and ignores backpressure,
// so this decoder is ours: it hands out payload slices as they arrive (a frame split
// across chunks comes out in pieces) and never holds more than one header.
import { Transform, type TransformCallback } from 'node:stream';

export type StreamKind = 'stdin' | 'stdout' | 'stderr';
export interface FramePiece {
  stream: StreamKind;
  data: Buffer;
}

const HEADER_SIZE = 8;
const KINDS: Record<number, StreamKind> = { 0: 'stdin', 1: 'stdout', 2: 'stderr' };

export class FrameDecoder {
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  private remaining = 0;
  private current: StreamKind = 'stdout';
  /** Set when the data turns out not to be multiplexed: everything is stdout from then on. */
  private raw = false;

  push(chunk: Buffer): FramePiece[] {
    if (this.raw) return chunk.length > 0 ? [{ stream: 'stdout', data: chunk }] : [];
    const pieces: FramePiece[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - offset);
        pieces.push({ stream: this.current, data: chunk.subarray(offset, offset + take) });
        this.remaining -= take;
        offset += take;
        continue;
      }
      const take = Math.min(HEADER_SIZE - this.headerFill, chunk.length - offset);
      chunk.copy(this.header, this.headerFill, offset, offset + take);
      this.headerFill += take;
      offset += take;
      if (this.headerFill < HEADER_SIZE) break;
      this.headerFill = 0;
      const kind = KINDS[this.header[0] ?? -1];
      if (kind === undefined || this.header[1] !== 0 || this.header[2] !== 0 || this.header[3] !== 0) {
        // Not a frame header: a TTY stream sent our way. Pass it through unharmed.
        this.raw = true;
        pieces.push({ stream: 'stdout', data: Buffer.concat([this.header, chunk.subarray(offset)]) });
        return pieces;
      }
      this.current = kind;
      this.remaining = this.header.readUInt32BE(4);
    }
    return pieces;
  }

  /** Bytes of a frame announced but not yet received (non-zero at end = truncated stream). */
  get pendingBytes(): number {
    return this.remaining + this.headerFill;
  }
}

/** A Transform that strips the frame headers and emits stdout and stderr merged, in order. */
export function demultiplexedOutput(): Transform {
  const decoder = new FrameDecoder();
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      for (const piece of decoder.push(chunk)) {
        if (piece.stream !== 'stdin') this.push(piece.data);
      }
      done();
    },
  });
}
