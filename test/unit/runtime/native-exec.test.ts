import { describe, expect, it } from 'vitest';
import type { ExecTarget } from '../../../agent/runtime/docker/exec/exec-target.js';
import { NativeExec, isBatchExec, resolveExecHandler } from '../../../agent/runtime/docker/exec/native-exec.js';
import {
  NativeExecError,
  NativeExecProtocolError,
  type NativeExecCommand,
  type NativeExecTemplate,
} from '../../../agent/runtime/docker/exec/native-exec-protocol.js';
import { cgroupProcsPaths, parseConfinement, planNativeExec, type NativeExecFacts } from '../../../agent/runtime/docker/exec/native-exec-plan.js';
import { NotFoundError } from '../../../agent/runtime/errors.js';
import type { ExecResult } from '../../../agent/runtime/runtime.js';

const ID = 'c'.repeat(64);

// A cgroup v1 host with the unified hierarchy beside it (as Debian's hybrid layout), and one unmounted controller.
const MOUNTINFO = [
  '25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755',
  '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
  '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd',
  '30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct',
  '31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory',
].join('\n');
const PROC_CGROUP = [`5:memory:/docker/${ID}`, `4:cpu,cpuacct:/docker/${ID}`, `2:rdma:/`, `1:name=systemd:/docker/${ID}`, `0::/docker/${ID}`, ''].join('\n');

const status = (fields: Record<string, string>) =>
  Object.entries({
    Name: 'sleep',
    Uid: '0\t0\t0\t0',
    CapBnd: '00000000a80425fb',
    NoNewPrivs: '0',
    Seccomp: '0',
    ...fields,
  })
    .map(([k, v]) => `${k}:\t${v}`)
    .join('\n');

const target: ExecTarget = {
  containerId: ID,
  pid: 4242,
  startTime: 99,
  env: ['PATH=/bin', 'HOME=/root'],
  workingDir: '/srv',
  credentials: { uid: 0, gid: 0, groups: [10] },
};
const facts = (over: Partial<NativeExecFacts> = {}): NativeExecFacts => ({
  status: status({}),
  cgroup: PROC_CGROUP,
  mountinfo: MOUNTINFO,
  sameUserNamespace: true,
  ...over,
});

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
    expect(
      cgroupProcsPaths(
        `0::/docker/${ID}\n`,
        MOUNTINFO.split('\n')
          .filter((l) => !l.includes('cgroup2'))
          .join('\n'),
      ),
    ).toBeUndefined();
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
        pid: 4242,
        startTime: 99,
        uid: 0,
        gid: 0,
        groups: [10],
        capBounding: 0xa80425fbn,
        noNewPrivs: true,
        cgroupProcs: cgroupProcsPaths(PROC_CGROUP, MOUNTINFO),
        workingDir: '/srv',
        env: ['PATH=/bin', 'HOME=/root'],
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
    expect(parseConfinement(status({ CapBnd: '000001ffffffffff', NoNewPrivs: '1', Seccomp: '2' }))).toEqual({
      capBounding: 0x1ffffffffffn,
      noNewPrivs: true,
      seccomp: 2,
    });
  });
});

describe('resolveExecHandler and isBatchExec', () => {
  it('picks native only for a root agent with the helper built; native asked for and not had says why', () => {
    const host = (isRoot: boolean, nativeInstalled: boolean) => ({ isRoot, nativeInstalled });
    expect(resolveExecHandler('auto', host(true, true))).toEqual({ handler: 'native' });
    expect(resolveExecHandler('native', host(true, true))).toEqual({ handler: 'native' });
    expect(resolveExecHandler('auto', host(true, false))).toEqual({ handler: 'docker' });
    expect(resolveExecHandler('auto', host(false, true))).toEqual({ handler: 'docker' });
    expect(resolveExecHandler('native', host(false, true))).toEqual({ handler: 'docker', unmet: 'the agent does not run as root' });
    expect(resolveExecHandler('native', host(true, false))).toMatchObject({ handler: 'docker', unmet: expect.stringMatching(/not built/) });
    expect(resolveExecHandler('docker', host(true, true))).toEqual({ handler: 'docker' });
  });

  it('serves bounded, non-interactive execs only', () => {
    expect(isBatchExec({ timeoutMs: 1000 })).toBe(true);
    expect(isBatchExec({})).toBe(false);
    expect(isBatchExec({ timeoutMs: 0 })).toBe(false);
    expect(isBatchExec({ timeoutMs: 1000, stdin: 'x' })).toBe(false);
    expect(isBatchExec({ timeoutMs: 1000, tty: true })).toBe(false);
  });
});

/** /proc/<pid>/stat with the given start time. */
function statText(pid: number, startTime: number): string {
  const after = ['S', '1', '1', '1', '0', '-1', '4194560', ...Array<string>(12).fill('0'), String(startTime), '1000', '200'];
  return `${pid} (sleep) ${after.join(' ')}\n`;
}

/** A NativeExec over a fake /proc, a fake Docker and a fake helper, recording what it runs. */
function harness() {
  const files = new Map<string, string>([['/proc/self/mountinfo', MOUNTINFO]]);
  const setProcess = (pid: number, startTime: number, options: { containerId?: string; seccomp?: string } = {}) => {
    const containerId = options.containerId ?? ID;
    files.set(`/proc/${pid}/stat`, statText(pid, startTime));
    files.set(`/proc/${pid}/status`, `${status({ Seccomp: options.seccomp ?? '0' })}\nGid:\t0\t0\t0\t0\nGroups:\t0 \n`);
    files.set(`/proc/${pid}/cgroup`, `5:memory:/docker/${containerId}\n0::/docker/${containerId}\n`);
    files.set(`/proc/${pid}/environ`, 'HOME=/root\0');
  };
  const state = { pid: 4242, inspects: 0, stops: 0 };
  const runs: Array<{ template: NativeExecTemplate; command: NativeExecCommand }> = [];
  const ok: ExecResult = { exitCode: 0, stdout: Buffer.from('ok'), stderr: Buffer.alloc(0), timedOut: false };
  let answer: (template: NativeExecTemplate) => ExecResult | Error = () => ok;
  const exec = new NativeExec({
    inspect: async (id) => {
      state.inspects++;
      if (id !== ID) throw new NotFoundError(`inspect container ${id}: No such container`);
      return { Id: ID, State: { Running: true, Pid: state.pid }, Config: { User: '', Env: [], WorkingDir: '/', Hostname: 'h' } };
    },
    readProc: (path) => {
      const text = files.get(path);
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
    readUserNamespace: () => 'user:[4026531837]',
    helper: {
      run: async (template, command) => {
        runs.push({ template, command });
        const result = answer(template);
        if (result instanceof Error) throw result;
        return result;
      },
      stop: () => {
        state.stops++;
      },
    },
  });
  return {
    exec,
    files,
    setProcess,
    state,
    runs,
    ok,
    answerWith: (fn: typeof answer) => {
      answer = fn;
    },
  };
}

describe('NativeExec', () => {
  it('inspects a container once and reuses its template; the helper checks the pid on every exec', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000 });
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000, maxOutputBytes: 10 });
    expect(h.state.inspects).toBe(1);
    expect(h.runs.map((r) => [r.template.pid, r.template.startTime])).toEqual([
      [4242, 777],
      [4242, 777],
    ]);
    expect(h.runs[1]?.command).toEqual({ argv: ['true'], timeoutMs: 1000, maxOutputBytes: 10 });
  });

  it('inspects again, once, when the helper finds the main process gone (a restart)', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000 });
    h.files.delete('/proc/4242/stat');
    h.state.pid = 5000;
    h.setProcess(5000, 900);
    h.answerWith((t) => (t.pid === 4242 ? new NativeExecError("the container's main process: No such process", 3, true) : h.ok));
    expect(await h.exec.exec(ID, ['true'], { timeoutMs: 1000 })).toEqual(h.ok);
    expect(h.state.inspects).toBe(2);
    expect(h.runs.map((r) => r.template.pid)).toEqual([4242, 4242, 5000]);
    // Gone twice in a row: the error is the caller's.
    h.answerWith(() => new NativeExecError('gone', 3, true));
    await expect(h.exec.exec(ID, ['true'], { timeoutMs: 1000 })).rejects.toThrow(NativeExecError);
  });

  it('forgets a removed container', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000 });
    expect(h.exec.cachedRoutes).toBe(1);
    h.exec.forget(ID);
    expect(h.exec.cachedRoutes).toBe(0);
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000 });
    expect(h.state.inspects).toBe(2);
  });

  it('hands interactive execs and containers it cannot serve back to Docker', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    expect(await h.exec.exec(ID, ['sh'], { timeoutMs: 0 })).toBeUndefined();
    expect(h.state.inspects).toBe(0);
    h.files.delete('/proc/4242/stat'); // the main process is gone
    expect(await h.exec.exec(ID, ['true'], { timeoutMs: 1000 })).toBeUndefined();
    expect(h.runs).toHaveLength(0);
    await expect(h.exec.exec('missing', ['true'], { timeoutMs: 1000 })).rejects.toThrow(NotFoundError);
  });

  it('keeps a Docker answer while the main process holds its pid, and asks again when it changed', async () => {
    const h = harness();
    h.setProcess(4242, 777, { seccomp: '2' });
    expect(await h.exec.exec(ID, ['true'], { timeoutMs: 1000 })).toBeUndefined();
    expect(await h.exec.exec(ID, ['true'], { timeoutMs: 1000 })).toBeUndefined();
    expect(h.state.inspects).toBe(1);
    // Restarted without a seccomp filter: same pid, another process.
    h.setProcess(4242, 778);
    expect(await h.exec.exec(ID, ['true'], { timeoutMs: 1000 })).toEqual(h.ok);
    expect(h.state.inspects).toBe(2);
  });

  it('falls back to Docker when the helper could not set the command up', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    h.answerWith(() => new NativeExecError('setns: Operation not permitted', 1, false));
    expect(await h.exec.exec(ID, ['true'], { timeoutMs: 1000 })).toBeUndefined();
  });

  it('runs everything through Docker from the moment the helper speaks another protocol, and stops it', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    h.answerWith(() => new NativeExecProtocolError(2));
    expect(await h.exec.exec(ID, ['true'], { timeoutMs: 1000 })).toBeUndefined();
    expect(h.exec.enabled).toBe(false);
    expect(h.state.stops).toBe(1);
    expect(await h.exec.exec(ID, ['true'], { timeoutMs: 1000 })).toBeUndefined();
    expect(h.runs).toHaveLength(1);
  });
});
