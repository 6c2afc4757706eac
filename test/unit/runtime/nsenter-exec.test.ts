import { describe, expect, it } from 'vitest';
import type { HelperCommand } from '../../../agent/runtime/docker/exec/exec-helper.js';
import {
  NSENTER_PATH, NsenterExec, SETPRIV_PATH, helperCommand, resolveExecHandler, isBatchExec, nsenterCommand,
} from '../../../agent/runtime/docker/exec/nsenter-exec.js';
import {
  DOCKER_DEFAULT_PATH, cgroupBelongsTo, credentialSwitch, execEnvironment, isSameProcess, numericUser, parseCredentials,
  parseStartTime, planExec, type InspectFacts, type NsenterTarget, type ProcFacts,
} from '../../../agent/runtime/docker/exec/nsenter-target.js';
import { NotFoundError } from '../../../agent/runtime/errors.js';
import type { ExecResult } from '../../../agent/runtime/runtime.js';

const ID = 'a'.repeat(64);
const ROOT = { uid: 0, gid: 0, groups: [] };

/** /proc/<pid>/stat with the given start time; the command name holds a space and a parenthesis, as names may. */
function stat(pid: number, startTime: number): string {
  const after = ['S', '1', '1', '1', '0', '-1', '4194560', ...Array<string>(12).fill('0'), String(startTime), '1000', '200'];
  return `${pid} (my (app) x) ${after.join(' ')}\n`;
}

function statusText(uid: number, gid: number, groups: number[]): string {
  return `Name:\tsleep\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${gid}\t${gid}\t${gid}\t${gid}\nGroups:\t${groups.join(' ')} \n`;
}

function procFacts(overrides: Partial<ProcFacts> = {}): ProcFacts {
  return {
    stat: stat(4242, 777),
    status: statusText(0, 0, [0]),
    cgroup: `9:name=systemd:/docker/${ID}\n8:pids:/docker/${ID}\n`,
    environ: 'PATH=/bin\0HOME=/root\0HOSTNAME=web\0',
    ...overrides,
  };
}

function inspect(overrides: Partial<InspectFacts> = {}): InspectFacts {
  return {
    Id: ID,
    State: { Running: true, Paused: false, Restarting: false, Pid: 4242 },
    Config: { User: '', Env: ['GREETING=hi', 'PATH=/usr/bin:/bin'], WorkingDir: '/srv', Hostname: 'web-1' },
    ...overrides,
  };
}

const context = { self: ROOT, setprivAvailable: true };

function target(overrides: Partial<NsenterTarget> = {}): NsenterTarget {
  return {
    containerId: ID, pid: 4242, startTime: 777, env: ['PATH=/bin'], workingDir: '/srv', credentials: { uid: 0, gid: 0, groups: [0] }, ...overrides,
  };
}

describe('nsenterCommand', () => {
  it("enters every namespace of the main process, with its root and the working directory inside it", () => {
    expect(nsenterCommand(target(), ['test', '-f', '/ready'], ROOT)).toEqual({
      file: NSENTER_PATH,
      args: ['--target', '4242', '--mount', '--uts', '--ipc', '--net', '--pid', '--root', '--wdns=/srv', '--', 'test', '-f', '/ready'],
    });
  });

  it('keeps a command that starts with a dash after the separator', () => {
    const { args } = nsenterCommand(target(), ['-weird', '--target', '1'], ROOT);
    expect(args.slice(args.indexOf('--'))).toEqual(['--', '-weird', '--target', '1']);
  });

  it("lets nsenter drop to a user without supplementary groups", () => {
    const { file, args } = nsenterCommand(target({ credentials: { uid: 1000, gid: 2000, groups: [] } }), ['id'], ROOT);
    expect(file).toBe(NSENTER_PATH);
    expect(args.slice(-6)).toEqual(['--setuid', '1000', '--setgid', '2000', '--', 'id']);
  });

  it('sets supplementary groups with setpriv, which keeps root so nsenter can still enter', () => {
    const { file, args } = nsenterCommand(target({ credentials: { uid: 1000, gid: 2000, groups: [2000, 1234] } }), ['id'], ROOT);
    expect(file).toBe(SETPRIV_PATH);
    expect(args.slice(0, 6)).toEqual(['--regid', '2000', '--groups', '2000,1234', '--', NSENTER_PATH]);
    expect(args.slice(-4)).toEqual(['--setuid', '1000', '--', 'id']);
    expect(args).not.toContain('--setgid'); // it would drop the groups again
  });
});

describe('helperCommand', () => {
  it('hands the helper the environment as a map (values may hold "=") and the exec limits', () => {
    const command = helperCommand({ file: NSENTER_PATH, args: ['--', 'true'] }, ['A=1', 'B=x=y'], { timeoutMs: 1000, maxOutputBytes: 10 });
    expect(command).toEqual({ file: NSENTER_PATH, args: ['--', 'true'], env: { A: '1', B: 'x=y' }, timeoutMs: 1000, maxOutputBytes: 10 });
  });
});

describe('credentialSwitch', () => {
  it('switches nothing when the command runs as the agent does; a repeated primary group changes nothing', () => {
    expect(credentialSwitch({ uid: 0, gid: 0, groups: [0] }, { uid: 0, gid: 0, groups: [] })).toBe('none');
    expect(credentialSwitch({ uid: 0, gid: 0, groups: [] }, { uid: 0, gid: 0, groups: [0] })).toBe('none');
    expect(credentialSwitch({ uid: 0, gid: 0, groups: [] }, { uid: 0, gid: 0, groups: [0, 10] })).toBe('nsenter');
    expect(credentialSwitch({ uid: 0, gid: 0, groups: [0, 10] }, { uid: 0, gid: 0, groups: [] })).toBe('setpriv');
  });
});

describe('/proc parsing', () => {
  it('reads the start time past a command name holding spaces and parentheses', () => {
    expect(parseStartTime(stat(1, 123456))).toBe(123456);
    expect(parseStartTime('garbage')).toBeUndefined();
  });

  it('reads the real uid, gid and supplementary groups', () => {
    expect(parseCredentials(statusText(1000, 2000, [2000, 5]))).toEqual({ uid: 1000, gid: 2000, groups: [2000, 5] });
    expect(parseCredentials('Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n')).toEqual({ uid: 0, gid: 0, groups: [] });
    expect(parseCredentials('Name:\tx\n')).toBeUndefined();
  });

  it('places a process in a container by cgroupfs or systemd cgroup paths', () => {
    expect(cgroupBelongsTo(`0::/system.slice/docker-${ID}.scope\n`, ID)).toBe(true);
    expect(cgroupBelongsTo(`4:memory:/docker/${ID}\n`, ID)).toBe(true);
    expect(cgroupBelongsTo(`4:memory:/docker/${'b'.repeat(64)}\n`, ID)).toBe(false);
    expect(cgroupBelongsTo('4:memory:/\n', '')).toBe(false);
  });

  it('tells the same process from a reused pid (start time) and from a process of another container (cgroup)', () => {
    const identity = { containerId: ID, pid: 4242, startTime: 777 };
    expect(isSameProcess(identity, { stat: stat(4242, 777), cgroup: `1:pids:/docker/${ID}` })).toBe(true);
    expect(isSameProcess(identity, { stat: stat(4242, 999), cgroup: `1:pids:/docker/${ID}` })).toBe(false);
    expect(isSameProcess(identity, { stat: stat(4242, 777), cgroup: '1:pids:/user.slice' })).toBe(false);
  });
});

describe('numericUser and execEnvironment', () => {
  it('reads root, uid and uid:gid, and leaves names to Docker', () => {
    expect(numericUser('')).toEqual({ uid: 0 });
    expect(numericUser(undefined)).toEqual({ uid: 0 });
    expect(numericUser('1000')).toEqual({ uid: 1000 });
    expect(numericUser('1000:3000')).toEqual({ uid: 1000, gid: 3000 });
    expect(numericUser('nobody')).toBeUndefined();
    expect(numericUser('1000:staff')).toBeUndefined();
  });

  it("builds Docker's exec environment: PATH and HOSTNAME first, the container's Env over them, HOME last", () => {
    expect(execEnvironment(['A=1', 'HOSTNAME=mine', 'B=x=y', 'BARE'], 'web-1', '/root')).toEqual([
      `PATH=${DOCKER_DEFAULT_PATH}`, 'HOSTNAME=mine', 'A=1', 'B=x=y', 'HOME=/root',
    ]);
    expect(execEnvironment(['HOME=/home/app', 'PATH=/bin'], 'h', '/root')).toEqual(['PATH=/bin', 'HOSTNAME=h', 'HOME=/home/app']);
  });
});

describe('planExec', () => {
  it('plans nsenter for a running container with a numeric user', () => {
    const route = planExec(inspect(), procFacts(), context);
    expect(route).toEqual({
      handler: 'nsenter',
      target: {
        containerId: ID, pid: 4242, startTime: 777, workingDir: '/srv', credentials: { uid: 0, gid: 0, groups: [0] },
        env: ['PATH=/usr/bin:/bin', 'HOSTNAME=web-1', 'GREETING=hi', 'HOME=/root'],
      },
    });
  });

  it('defaults the working directory to / and HOME to / when the main process has none', () => {
    const route = planExec(inspect({ Config: { Env: [] } }), procFacts({ environ: 'PATH=/bin\0' }), context);
    expect(route.handler === 'nsenter' && route.target.workingDir).toBe('/');
    expect(route.handler === 'nsenter' && route.target.env).toContain('HOME=/');
  });

  it('takes gid and groups from the main process when the user names only a uid', () => {
    const route = planExec(inspect({ Config: { User: '1000' } }), procFacts({ status: statusText(1000, 100, [100, 7]) }), context);
    expect(route.handler === 'nsenter' && route.target.credentials).toEqual({ uid: 1000, gid: 100, groups: [100, 7] });
  });

  it('leaves to Docker what nsenter cannot run exactly as Docker would', () => {
    const reasons = [
      planExec(inspect({ State: { Running: false, Pid: 0 } }), undefined, context),
      planExec(inspect({ State: { Running: true, Paused: true, Pid: 4242 } }), procFacts(), context),
      planExec(inspect(), undefined, context),
      planExec(inspect(), procFacts({ cgroup: '1:pids:/user.slice\n' }), context),
      planExec(inspect({ Config: { Env: ['LD_PRELOAD=/proc/1/root/evil.so'] } }), procFacts(), context),
      planExec(inspect({ Config: { Env: ['GCONV_PATH=/x'] } }), procFacts(), context),
      planExec(inspect({ Config: { User: 'nobody' } }), procFacts(), context),
      // The entrypoint dropped root: its groups say nothing of what Docker would give the exec.
      planExec(inspect({ Config: { User: '' } }), procFacts({ status: statusText(999, 999, []) }), context),
      planExec(inspect({ Config: { User: '1000:1000' } }), procFacts({ status: statusText(1000, 5, []) }), context),
      planExec(inspect({ Config: { User: '1000:1000' } }), procFacts({ status: statusText(1000, 1000, [1000, 44]) }), { ...context, setprivAvailable: false }),
    ].map((route) => (route.handler === 'docker' ? route.reason : 'nsenter'));
    expect(reasons).toEqual([
      'the container is not running',
      'the container is not running',
      'its main process 4242 is gone',
      'process 4242 does not belong to the container',
      'its environment sets LD_PRELOAD, which the host\'s loader would act on',
      'its environment sets GCONV_PATH, which the host\'s loader would act on',
      'user "nobody" is a name; Docker resolves it in the image',
      'the main process no longer runs as user ""',
      'the main process no longer runs as user "1000:1000"',
      'supplementary groups need setpriv, which is not installed',
    ]);
  });
});

describe('resolveExecHandler and isBatchExec', () => {
  it('picks nsenter only for a root agent, and for auto only with the native helper', () => {
    const host = (isRoot: boolean, nsenterInstalled: boolean, nativeInstalled: boolean) => ({ isRoot, nsenterInstalled, nativeInstalled });
    expect(resolveExecHandler('nsenter', host(true, true, false))).toBe('nsenter');
    expect(resolveExecHandler('nsenter', host(false, true, true))).toBe('docker');
    expect(resolveExecHandler('nsenter', host(true, false, false))).toBe('docker');
    expect(resolveExecHandler('auto', host(true, true, true))).toBe('nsenter');
    expect(resolveExecHandler('auto', host(true, true, false))).toBe('docker');
    expect(resolveExecHandler('auto', host(false, true, true))).toBe('docker');
    expect(resolveExecHandler('docker', host(true, true, true))).toBe('docker');
  });

  it('serves bounded, non-interactive execs only', () => {
    expect(isBatchExec({ timeoutMs: 1000 })).toBe(true);
    expect(isBatchExec({})).toBe(false);
    expect(isBatchExec({ timeoutMs: 0 })).toBe(false);
    expect(isBatchExec({ timeoutMs: 1000, stdin: 'x' })).toBe(false);
    expect(isBatchExec({ timeoutMs: 1000, tty: true })).toBe(false);
  });
});

/** An NsenterExec over a fake /proc and a fake Docker, recording what it runs. */
function harness() {
  const files = new Map<string, string>();
  const setProcess = (pid: number, startTime: number, containerId = ID) => {
    files.set(`/proc/${pid}/stat`, stat(pid, startTime));
    files.set(`/proc/${pid}/status`, statusText(0, 0, [0]));
    files.set(`/proc/${pid}/cgroup`, `8:pids:/docker/${containerId}\n`);
    files.set(`/proc/${pid}/environ`, 'HOME=/root\0');
  };
  const state = { pid: 4242, inspects: 0 };
  const runs: HelperCommand[] = [];
  let result: ExecResult = { exitCode: 0, stdout: Buffer.from('ok'), stderr: Buffer.alloc(0), timedOut: false };
  const exec = new NsenterExec({ native: null,
    inspect: async (id) => {
      state.inspects++;
      if (id !== ID) throw new NotFoundError(`inspect container ${id}: No such container`);
      return inspect({ State: { Running: true, Pid: state.pid } });
    },
    readProc: (path) => {
      const text = files.get(path);
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
    self: ROOT,
    setprivAvailable: true,
    run: async (command: HelperCommand) => {
      runs.push(command);
      return result;
    },
  });
  return { exec, files, setProcess, state, runs, setResult: (r: ExecResult) => { result = r; } };
}

const pidOf = (command: Pick<HelperCommand, 'args'>) => command.args[command.args.indexOf('--target') + 1];

describe('NsenterExec', () => {
  it('inspects a container once and reuses its pid while the same process holds it', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000 });
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000 });
    expect(h.state.inspects).toBe(1);
    expect(h.runs.map(pidOf)).toEqual(['4242', '4242']);
  });

  it('inspects again when the pid died, was reused by another process, or left the container', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000 });

    // Restarted: the old pid is gone, the new main process is 5000.
    h.files.clear();
    h.state.pid = 5000;
    h.setProcess(5000, 900);
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000 });

    // Reused: pid 5000 now belongs to a newer process of the same container (another start time).
    h.setProcess(5000, 901);
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000 });

    // Reused by a process outside the container.
    h.setProcess(5000, 901, 'b'.repeat(64));
    h.state.pid = 6000;
    h.setProcess(6000, 950);
    await h.exec.exec(ID, ['true'], { timeoutMs: 1000 });

    expect(h.state.inspects).toBe(4);
    expect(h.runs.map(pidOf)).toEqual(['4242', '5000', '5000', '6000']);
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
    h.files.clear(); // the main process is gone
    expect(await h.exec.exec(ID, ['true'], { timeoutMs: 1000 })).toBeUndefined();
    expect(h.runs).toHaveLength(0);
    await expect(h.exec.exec('missing', ['true'], { timeoutMs: 1000 })).rejects.toThrow(NotFoundError);
  });

  it('asks Docker again once when nsenter could not enter because the process died meanwhile', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    const enterFailure = { exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from('nsenter: cannot open /proc/4242/ns/ipc: No such file or directory\n'), timedOut: false };
    const ok = { exitCode: 0, stdout: Buffer.from('ok'), stderr: Buffer.alloc(0), timedOut: false };
    const runs: string[] = [];
    const exec = new NsenterExec({ native: null,
      inspect: async () => inspect({ State: { Running: true, Pid: h.state.pid } }),
      readProc: (path) => {
        const text = h.files.get(path);
        if (text === undefined) throw new Error(`ENOENT: ${path}`);
        return text;
      },
      self: ROOT,
      // The container restarts between the pid check and nsenter's entering.
      run: async (command) => {
        runs.push(pidOf(command)!);
        if (pidOf(command) !== '4242') return ok;
        h.files.clear();
        h.state.pid = 5000;
        h.setProcess(5000, 900);
        return enterFailure;
      },
    });
    expect(await exec.exec(ID, ['true'], { timeoutMs: 1000 })).toEqual(ok);
    expect(runs).toEqual(['4242', '5000']);
  });

  it('keeps a failure of the command itself, with no retry', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    h.setResult({ exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from('nsenter: but the process is alive\n'), timedOut: false });
    expect((await h.exec.exec(ID, ['false'], { timeoutMs: 1000 }))?.exitCode).toBe(1);
    expect(h.runs).toHaveLength(1);
  });

  it('falls back to Docker when nsenter cannot be started', async () => {
    const h = harness();
    h.setProcess(4242, 777);
    const exec = new NsenterExec({ native: null,
      inspect: async () => inspect(),
      readProc: (path) => h.files.get(path) ?? '',
      self: ROOT,
      run: async () => { throw Object.assign(new Error('spawn /usr/bin/nsenter ENOENT'), { code: 'ENOENT', syscall: 'spawn /usr/bin/nsenter' }); },
    });
    expect(await exec.exec(ID, ['true'], { timeoutMs: 1000 })).toBeUndefined();
  });
});
