import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, demultiplexedOutput } from '../../../agent/runtime/docker/frame-decoder.js';
import { jsonMessages, progressError } from '../../../agent/runtime/docker/json-stream.js';

function frame(stream: number, payload: string): Buffer {
  const data = Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

function collect(decoder: FrameDecoder, chunks: Buffer[]): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  for (const chunk of chunks) {
    for (const p of decoder.push(chunk)) {
      if (p.stream === 'stdout') stdout += p.data.toString();
      if (p.stream === 'stderr') stderr += p.data.toString();
    }
  }
  return { stdout, stderr };
}

describe('FrameDecoder', () => {
  it('splits stdout and stderr frames', () => {
    const out = collect(new FrameDecoder(), [Buffer.concat([frame(1, 'out1 '), frame(2, 'err1'), frame(1, 'out2')])]);
    expect(out).toEqual({ stdout: 'out1 out2', stderr: 'err1' });
  });

  it('survives headers and payloads split at every byte', () => {
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'oops'), frame(1, 'world'), frame(1, '')]);
    const bytes = [...all].map((b) => Buffer.from([b]));
    const decoder = new FrameDecoder();
    expect(collect(decoder, bytes)).toEqual({ stdout: 'hello world', stderr: 'oops' });
    expect(decoder.pendingBytes).toBe(0);
  });

  it('reports a truncated frame as pending bytes', () => {
    const decoder = new FrameDecoder();
    collect(decoder, [frame(1, 'abcdef').subarray(0, 10)]);
    expect(decoder.pendingBytes).toBe(4);
  });

  it('passes through a stream that is not multiplexed (a TTY)', () => {
    expect(collect(new FrameDecoder(), [Buffer.from('plain tty output\n'), Buffer.from('more')])).toEqual({ stdout: 'plain tty output\nmore', stderr: '' });
  });
});

describe('demultiplexedOutput', () => {
  it('strips frame headers and keeps order, down to the last byte', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `${i + 1}\n`);
    const frames = lines.map((l, i) => frame(i % 7 === 0 ? 2 : 1, l));
    const big = Buffer.concat(frames);
    const chunks: Buffer[] = [];
    for (let i = 0; i < big.length; i += 1021) chunks.push(big.subarray(i, i + 1021));
    const out = await text(Readable.from(chunks).pipe(demultiplexedOutput()));
    expect(out).toBe(lines.join(''));
    expect(out.endsWith('5000\n')).toBe(true);
  });
});

describe('jsonMessages', () => {
  it('yields one object per line however the chunks fall', async () => {
    const body = '{"status":"a"}\n{"status":"b"}\r\n\n{"error":"boom","errorDetail":{"message":"boom detail"}}\n{"tail":true}';
    const chunks = [body.slice(0, 5), body.slice(5, 20), body.slice(20, 21), body.slice(21)].map((s) => Buffer.from(s));
    const seen: unknown[] = [];
    for await (const m of jsonMessages(Readable.from(chunks))) seen.push(m);
    expect(seen).toEqual([{ status: 'a' }, { status: 'b' }, { error: 'boom', errorDetail: { message: 'boom detail' } }, { tail: true }]);
  });

  it('keeps multi-byte characters split across chunks intact', async () => {
    const bytes = Buffer.from('{"status":"héllo ✓"}\n');
    const seen: unknown[] = [];
    for await (const m of jsonMessages(Readable.from([bytes.subarray(0, 14), bytes.subarray(14)]))) seen.push(m);
    expect(seen).toEqual([{ status: 'héllo ✓' }]);
  });

  it('turns a line that is not JSON into an error message', async () => {
    const seen: unknown[] = [];
    for await (const m of jsonMessages(Readable.from([Buffer.from('<html>bad gateway</html>\n')]))) seen.push(m);
    expect(progressError(seen[0])).toBe('<html>bad gateway</html>');
  });
});

describe('progressError', () => {
  it('prefers errorDetail.message, then error, else none', () => {
    expect(progressError({ error: 'short', errorDetail: { message: 'long' } })).toBe('long');
    expect(progressError({ error: 'short' })).toBe('short');
    expect(progressError({ status: 'Downloading' })).toBeUndefined();
    expect(progressError('text')).toBeUndefined();
  });
});
