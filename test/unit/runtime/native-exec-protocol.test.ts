import { describe, expect, it } from 'vitest';
import { decodeNativeExecReplies, encodeNativeExecRequest, type NativeExecRequest } from '../../../agent/runtime/docker/exec/native-exec-protocol.js';

describe('the native helper protocol', () => {
  const request: NativeExecRequest = {
    pid: 7, startTime: 2 ** 40, uid: 1000, gid: 1000, groups: [1000, 2000], capBounding: 0xffn, noNewPrivs: true,
    cgroupProcs: ['/sys/fs/cgroup/x/cgroup.procs'], workingDir: '/', argv: ['sh', '-c', 'echo é'], env: ['A=1'], timeoutMs: 1000, maxOutputBytes: 10,
  };

  it('frames a request with its length and NUL-terminated strings', () => {
    const frame = encodeNativeExecRequest(5, request);
    expect(frame.readUInt32LE(0)).toBe(frame.length - 4);
    expect(frame.readUInt32LE(4)).toBe(5);
    expect(frame.readBigUInt64LE(20)).toBe(2n ** 40n);
    // The container's part (up to env) comes before the command, which is last.
    expect(frame.subarray(frame.length - 'sh\0-c\0echo é\0'.length - 1).toString()).toBe('sh\0-c\0echo é\0');
    expect(frame.includes('A=1\0')).toBe(true);
    expect(frame.indexOf('A=1\0')).toBeLessThan(frame.indexOf('sh\0'));
    expect(() => encodeNativeExecRequest(1, { ...request, argv: ['a\0b'] })).toThrow(/NUL/);
  });

  it('decodes replies split anywhere, results and set-up failures alike', () => {
    const reply = (id: number, status: number, code: number, out: string, err: string, msg: string) => {
      const parts = [out, err, msg].map((s) => { const b = Buffer.from(s); const h = Buffer.alloc(4); h.writeUInt32LE(b.length); return Buffer.concat([h, b]); });
      const head = Buffer.alloc(13);
      head.writeUInt32LE(id, 0); head.writeUInt32LE(status, 4); head.writeInt32LE(code, 8); head[12] = 0;
      const body = Buffer.concat([head, ...parts]);
      const len = Buffer.alloc(4); len.writeUInt32LE(body.length);
      return Buffer.concat([len, body]);
    };
    const stream = Buffer.concat([reply(1, 0, 3, 'out', 'err', ''), reply(2, 2, 3, '', '', 'the container\'s main process: No such process')]);
    const first = decodeNativeExecReplies(stream.subarray(0, 40));
    expect(first.replies).toHaveLength(1);
    expect(first.replies[0]).toMatchObject({ id: 1, result: { exitCode: 3, timedOut: false } });
    const second = decodeNativeExecReplies(Buffer.concat([first.rest, stream.subarray(40)]));
    expect(second.rest.length).toBe(0);
    const gone = second.replies[0] as { id: number; error: { targetGone: boolean; message: string } };
    expect(gone.id).toBe(2);
    expect(gone.error.targetGone).toBe(true);
    expect(gone.error.message).toMatch(/No such process/);
  });
});
