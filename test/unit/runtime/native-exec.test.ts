import { describe, expect, it } from 'vitest';
import { decodeNativeExecReplies, encodeNativeExecRequest, type NativeExecRequest } from '../../../agent/runtime/docker/exec/native-exec-helper.js';
import { cgroupProcsPaths, parseConfinement, planNativeExec, type NativeExecFacts } from '../../../agent/runtime/docker/exec/native-exec-plan.js';
import type { NsenterTarget } from '../../../agent/runtime/docker/exec/nsenter-target.js';

const ID = 'c'.repeat(64);

// A cgroup v1 host with the unified hierarchy beside it (as Debian's hybrid layout), and one unmounted controller.
const MOUNTINFO = [
  '25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755',
  '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
  '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd',
  '30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct',
  '31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory',
].join('\n');
const PROC_CGROUP = [
  `5:memory:/docker/${ID}`, `4:cpu,cpuacct:/docker/${ID}`, `2:rdma:/`, `1:name=systemd:/docker/${ID}`, `0::/docker/${ID}`, '',
].join('\n');

const status = (fields: Record<string, string>) => Object.entries({
  Name: 'sleep', Uid: '0\t0\t0\t0', CapBnd: '00000000a80425fb', NoNewPrivs: '0', Seccomp: '0', ...fields,
}).map(([k, v]) => `${k}:\t${v}`).join('\n');

const target: NsenterTarget = {
  containerId: ID, pid: 4242, startTime: 99, env: ['PATH=/bin', 'HOME=/root'], workingDir: '/srv', credentials: { uid: 0, gid: 0, groups: [10] },
};
const facts = (over: Partial<NativeExecFacts> = {}): NativeExecFacts => ({ status: status({}), cgroup: PROC_CGROUP, mountinfo: MOUNTINFO, sameUserNamespace: true, ...over });

describe('cgroupProcsPaths', () => {
  it('names one cgroup.procs per mounted hierarchy, v1 and unified, and skips controllers nobody mounted', () => {
    expect(cgroupProcsPaths(PROC_CGROUP, MOUNTINFO)).toEqual([
      `/sys/fs/cgroup/memory/docker/${ID}/cgroup.procs`,
      `/sys/fs/cgroup/cpu,cpuacct/docker/${ID}/cgroup.procs`,
      `/sys/fs/cgroup/systemd/docker/${ID}/cgroup.procs`,
      `/sys/fs/cgroup/unified/docker/${ID}/cgroup.procs`,
    ]);
  });

  it('refuses a path that would leave its mount, and a unified line without a cgroup2 mount', () => {
    expect(cgroupProcsPaths('4:memory:/../../etc\n', MOUNTINFO)).toBeUndefined();
    expect(cgroupProcsPaths(`0::/docker/${ID}\n`, MOUNTINFO.split('\n').filter((l) => !l.includes('cgroup2')).join('\n'))).toBeUndefined();
  });

  it('maps a hierarchy mounted below its root (a nested mount) and refuses a cgroup outside it', () => {
    const nested = '40 25 0:31 /docker /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids';
    expect(cgroupProcsPaths(`3:pids:/docker/${ID}\n`, nested)).toEqual([`/sys/fs/cgroup/pids/${ID}/cgroup.procs`]);
    expect(cgroupProcsPaths('3:pids:/other\n', nested)).toBeUndefined();
  });
});

describe('planNativeExec', () => {
  it("carries the main process's identity, credentials, bounding set, no_new_privs and cgroups", () => {
    const plan = planNativeExec(target, facts({ status: status({ NoNewPrivs: '1' }) }));
    expect(plan).toEqual({
      template: {
        pid: 4242, startTime: 99, uid: 0, gid: 0, groups: [10], capBounding: 0xa80425fbn, noNewPrivs: true,
        cgroupProcs: cgroupProcsPaths(PROC_CGROUP, MOUNTINFO), workingDir: '/srv', env: ['PATH=/bin', 'HOME=/root'],
      },
    });
  });

  it('leaves to Docker what it cannot reproduce: a seccomp filter, an LSM label, a user namespace, unplaceable cgroups', () => {
    const reason = (over: Partial<NativeExecFacts>) => (planNativeExec(target, facts(over)) as { reason?: string }).reason;
    expect(reason({ status: status({ Seccomp: '2' }) })).toMatch(/seccomp/);
    expect(reason({ lsmLabel: 'docker-default (enforce)' })).toMatch(/LSM label/);
    expect(reason({ lsmLabel: 'unconfined' })).toBeUndefined();
    expect(reason({ sameUserNamespace: false })).toMatch(/user namespace/);
    expect(reason({ cgroup: '4:memory:/elsewhere\n' })).toMatch(/cgroups/);
    expect(reason({ status: 'Name:\tx\n' })).toMatch(/capability/);
  });

  it('reads the bounding set, no_new_privs and seccomp mode from /proc/<pid>/status', () => {
    expect(parseConfinement(status({ CapBnd: '000001ffffffffff', NoNewPrivs: '1', Seccomp: '2' }))).toEqual({ capBounding: 0x1ffffffffffn, noNewPrivs: true, seccomp: 2 });
  });
});

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
