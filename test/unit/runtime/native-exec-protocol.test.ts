import { describe, expect, it } from 'vitest';
import {
  NATIVE_EXEC_PROTOCOL_VERSION,
  type NativeExecError,
  NativeExecProtocolError,
  decodeNativeExecHello,
  decodeNativeExecReplies,
  encodeNativeExecHello,
  encodeNativeExecRequest,
  type NativeExecRequest,
} from '../../../agent/runtime/docker/exec/native-exec-protocol.js';

describe('the native helper protocol', () => {
  const request: NativeExecRequest = {
    pid: 7,
    startTime: 2 ** 40,
    uid: 1000,
    gid: 1000,
    groups: [1000, 2000],
    capBounding: 0xffn,
    noNewPrivs: true,
    cgroupProcs: ['/sys/fs/cgroup/x/cgroup.procs'],
    workingDir: '/',
    argv: ['sh', '-c', 'echo é'],
    env: ['A=1'],
    timeoutMs: 1000,
    maxOutputBytes: 10,
  };

  it('frames a request with its length and NUL-terminated strings', () => {
    const frame = encodeNativeExecRequest(5, request);
    expect(frame.readUInt32LE(0)).toBe(frame.length - 4);
    expect(frame[4]).toBe(NATIVE_EXEC_PROTOCOL_VERSION);
    expect(frame.readUInt32LE(5)).toBe(5);
    expect(frame.readBigUInt64LE(21)).toBe(2n ** 40n);
    // The container's part (up to env) comes before the command, which is last.
    expect(frame.subarray(frame.length - 'sh\0-c\0echo é\0'.length - 1).toString()).toBe('sh\0-c\0echo é\0');
    expect(frame.includes('A=1\0')).toBe(true);
    expect(frame.indexOf('A=1\0')).toBeLessThan(frame.indexOf('sh\0'));
    expect(() => encodeNativeExecRequest(1, { ...request, argv: ['a\0b'] })).toThrow(/NUL/);
  });

  it('decodes replies split anywhere, results and set-up failures alike', () => {
    const reply = (id: number, status: number, code: number, out: string, err: string, msg: string) => {
      const parts = [out, err, msg].map((s) => {
        const b = Buffer.from(s);
        const h = Buffer.alloc(4);
        h.writeUInt32LE(b.length);
        return Buffer.concat([h, b]);
      });
      const head = Buffer.alloc(13);
      head.writeUInt32LE(id, 0);
      head.writeUInt32LE(status, 4);
      head.writeInt32LE(code, 8);
      head[12] = 0;
      const body = Buffer.concat([head, ...parts]);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(body.length);
      return Buffer.concat([len, body]);
    };
    const stream = Buffer.concat([reply(1, 0, 3, 'out', 'err', ''), reply(2, 2, 3, '', '', "the container's main process: No such process")]);
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

  it("reads the helper's hello, whole or split, and what follows it", () => {
    const hello = encodeNativeExecHello(1);
    expect(decodeNativeExecHello(hello.subarray(0, 6))).toEqual({ incomplete: true });
    const decoded = decodeNativeExecHello(Buffer.concat([hello, Buffer.from('next')]));
    expect(decoded).toEqual({ version: 1, rest: Buffer.from('next') });
    expect(decodeNativeExecHello(encodeNativeExecHello(7))).toMatchObject({ version: 7 });
    // A first frame that is no hello: a helper from before protocol versions.
    const reply = Buffer.alloc(30);
    reply.writeUInt32LE(26, 0);
    expect(decodeNativeExecHello(reply)).toMatchObject({ version: undefined });
  });

  it("turns a helper's refusal of the request's version into a protocol error naming both versions", () => {
    const message = Buffer.from('exec helper protocol v2, agent sent a v1 request');
    const body = Buffer.alloc(13 + 4 + 4 + 4 + message.length);
    body.writeUInt32LE(9, 0);
    body.writeUInt32LE(3, 4);
    body.writeInt32LE(2, 8);
    body.writeUInt32LE(message.length, 25);
    message.copy(body, 29);
    const frame = Buffer.concat([Buffer.alloc(4), body]);
    frame.writeUInt32LE(body.length, 0);
    const [reply] = decodeNativeExecReplies(frame).replies;
    const error = (reply as { error: NativeExecError }).error as NativeExecProtocolError;
    expect(error).toBeInstanceOf(NativeExecProtocolError);
    expect(error.message).toBe(`exec helper protocol v2, agent expects v${NATIVE_EXEC_PROTOCOL_VERSION}`);
    expect(error.helperVersion).toBe(2);
  });
});
