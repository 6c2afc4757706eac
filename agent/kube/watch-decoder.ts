// Watch streams are newline-delimited JSON, and the network cuts them anywhere:
// in the middle of a line and in the middle of a multi-byte UTF-8 character. The
// splitter buffers until a newline and decodes bytes only across whole characters.
import { StringDecoder } from 'node:string_decoder';

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private buffered = '';

  /** Complete, non-empty lines finished by this chunk. */
  push(chunk: Buffer | string): string[] {
    this.buffered += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const parts = this.buffered.split('\n');
    this.buffered = parts.pop() ?? '';
    return parts.map((l) => l.trim()).filter((l) => l !== '');
  }

  /** Whatever is left when the stream ends (a last line without its newline). */
  end(): string[] {
    const rest = (this.buffered + this.decoder.end()).trim();
    this.buffered = '';
    return rest ? [rest] : [];
  }
}

export async function* ndjsonLines(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const splitter = new LineSplitter();
  for await (const chunk of chunks) yield* splitter.push(chunk);
  yield* splitter.end();
}
