// Exec through nsenter against real containers: the command sees what Docker's exec
// would show it (exit code, output, environment, working directory, credentials,
// the container's filesystem and namespaces), is killed at its timeout, and follows
// a restarted container to its new main process.
import { readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type EngineRuntime } from '../../../agent/runtime/create-runtime.js';
import { DockerRuntime } from '../../../agent/runtime/docker/docker-runtime.js';
import { parseStartTime } from '../../../agent/runtime/docker/exec/nsenter-target.js';
import { isRuntimeError } from '../../../agent/runtime/errors.js';
import { busyboxImageTag } from '../../../agent/runtime/docker/local-images.js';
import { TEST_RUN_LABEL, docker, removeAllWithLabel, runId } from '../../support/docker.js';

const BUSYBOX = busyboxImageTag();
let nsenter: EngineRuntime;
let viaDocker: EngineRuntime;
let counter = 0;

/** A running busybox container labelled for cleanup; its main process writes a marker file first. */
async function startContainer(options: { user?: string; groupAdd?: string[]; env?: string[] } = {}): Promise<string> {
  const container = await docker.createContainer({
    name: `nsenter-it-${runId}-${counter++}`,
    Image: BUSYBOX,
    Cmd: ['sh', '-c', 'echo from-main-process > /tmp/marker; exec sleep 3600'],
    Env: options.env ?? ['GREETING=hello world', 'PATH=/usr/bin:/bin'],
    WorkingDir: '/tmp',
    ...(options.user ? { User: options.user } : {}),
    Labels: { [TEST_RUN_LABEL]: runId },
    HostConfig: { ...(options.groupAdd ? { GroupAdd: options.groupAdd } : {}) },
  });
  await container.start();
  // The marker is the main process's first act: wait for it so tests can read it.
  for (let i = 0; i < 100; i++) {
    const r = await viaDocker.exec(container.id, ['cat', '/tmp/marker'], { timeoutMs: 5_000 });
    if (r.exitCode === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return container.id;
}

async function mainPid(id: string): Promise<number> {
  return (await docker.getContainer(id).inspect()).State.Pid;
}

const run = (runtime: EngineRuntime, id: string, cmd: string[], timeoutMs = 10_000) => runtime.exec(id, cmd, { timeoutMs });

beforeAll(async () => {
  // This file covers /usr/bin/nsenter through the Node helper; native-exec.test.ts the native helper.
  nsenter = createRuntime({ requestTimeoutMs: 30_000, execHandler: 'nsenter', nativeExecHelperPath: null });
  viaDocker = createRuntime({ requestTimeoutMs: 30_000, execHandler: 'docker' });
  // Built from host binaries when missing; never pulled.
  await nsenter.ensureLocalImages();
});

afterAll(async () => {
  await removeAllWithLabel(TEST_RUN_LABEL, runId);
});

describe('exec through nsenter', () => {
  let id: string;
  beforeAll(async () => { id = await startContainer(); });

  it('is used only when asked for (Docker exec is the default), and runs outside Docker', async () => {
    expect((createRuntime() as DockerRuntime).execHandler).toBe('docker');
    expect((nsenter as DockerRuntime).execHandler).toBe('nsenter');
    // Docker's exec puts the command in the container's cgroup; nsenter leaves it in the agent's.
    const ours = await run(nsenter, id, ['cat', '/proc/self/cgroup']);
    const dockers = await run(viaDocker, id, ['cat', '/proc/self/cgroup']);
    expect(dockers.stdout.toString()).toContain(id);
    expect(ours.exitCode).toBe(0);
    expect(ours.stdout.toString()).not.toContain(id);
  });

  it('returns the exit code and keeps stdout and stderr apart', async () => {
    const r = await run(nsenter, id, ['sh', '-c', 'echo "$GREETING"; echo oops >&2; exit 3']);
    expect(r).toMatchObject({ exitCode: 3, timedOut: false });
    expect(r.stdout.toString()).toBe('hello world\n');
    expect(r.stderr.toString()).toBe('oops\n');
  });

  it('reports a command killed by a signal as 128 + the signal, and a missing command as a failure', async () => {
    expect((await run(nsenter, id, ['sh', '-c', 'kill -9 $$'])).exitCode).toBe(137);
    const missing = await run(nsenter, id, ['no-such-command']);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr.toString()).toContain('no-such-command');
  });

  it('gives the command the environment Docker exec gives it', async () => {
    const ours = (await run(nsenter, id, ['env'])).stdout.toString().trim().split('\n').sort();
    const dockers = (await run(viaDocker, id, ['env'])).stdout.toString().trim().split('\n').sort();
    expect(ours).toEqual(dockers);
    expect(ours).toEqual(expect.arrayContaining(['GREETING=hello world', 'PATH=/usr/bin:/bin', 'HOME=/root', `HOSTNAME=${id.slice(0, 12)}`]));
  });

  it("runs in the container's filesystem, working directory and namespaces", async () => {
    const pid = await mainPid(id);
    const r = await run(nsenter, id, ['sh', '-c', 'pwd; cat /tmp/marker; for ns in mnt net uts ipc pid; do readlink /proc/self/ns/$ns; done']);
    const [pwd, marker, ...namespaces] = r.stdout.toString().trim().split('\n');
    expect(pwd).toBe('/tmp');
    expect(marker).toBe('from-main-process');
    expect(namespaces).toEqual(['mnt', 'net', 'uts', 'ipc', 'pid'].map((ns) => readlinkSync(`/proc/${pid}/ns/${ns}`)));
    // The host's files are out of reach.
    expect((await run(nsenter, id, ['test', '-e', `${process.cwd()}/package.json`])).exitCode).toBe(1);
  });

  it('caps the captured output', async () => {
    const r = await nsenter.exec(id, ['seq', '1', '1000'], { timeoutMs: 10_000, maxOutputBytes: 10 });
    expect(r.stdout.toString()).toBe('1\n2\n3\n4\n5\n');
    expect(r.exitCode).toBe(0);
  });

  it('kills the command and its children at the timeout', async () => {
    const r = await nsenter.exec(id, ['sh', '-c', 'sleep 31; echo never'], { timeoutMs: 500 });
    expect(r).toMatchObject({ timedOut: true, exitCode: -1 });
    expect(r.stdout.toString()).toBe('');
    // The kill is immediate; the process table may take a moment to forget the dead.
    let left = '';
    for (let i = 0; i < 50; i++) {
      left = (await run(viaDocker, id, ['ps', '-o', 'args'])).stdout.toString();
      if (!left.includes('sleep 31')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(left).not.toContain('sleep 31');
  });

  it('leaves interactive and unbounded execs to Docker', async () => {
    expect((await nsenter.exec(id, ['cat', '/proc/self/cgroup'])).stdout.toString()).toContain(id);
    expect((await nsenter.exec(id, ['cat'], { stdin: 'typed', timeoutMs: 5_000 })).stdout.toString()).toBe('typed');
  });
});

describe('exec through nsenter, credentials', () => {
  it('runs as the numeric user and groups of the container, as Docker exec does', async () => {
    for (const options of [{ user: '1000:1000' }, { user: '1000:1000', groupAdd: ['1234', '5678'] }, { user: '' }]) {
      const id = await startContainer(options);
      const ours = await run(nsenter, id, ['sh', '-c', 'id -u; id -g; id -G; cat /proc/self/cgroup']);
      const dockers = await run(viaDocker, id, ['sh', '-c', 'id -u; id -g; id -G']);
      expect(ours.exitCode).toBe(0);
      const [u, g, groups, cgroup] = ours.stdout.toString().split('\n');
      expect([u, g, groups].join('\n') + '\n').toBe(dockers.stdout.toString());
      expect(cgroup).not.toContain(id); // through nsenter, not Docker
    }
  });

  it('leaves a named user and a loader variable in the environment to Docker', async () => {
    const named = await startContainer({ user: 'nobody' });
    const r = await run(nsenter, named, ['sh', '-c', 'id -u; cat /proc/self/cgroup']);
    expect(r.stdout.toString()).toMatch(/^65534\n/);
    expect(r.stdout.toString()).toContain(named);
    const preload = await startContainer({ env: ['LD_PRELOAD=/nonexistent.so', 'PATH=/bin'] });
    expect((await run(nsenter, preload, ['cat', '/proc/self/cgroup'])).stdout.toString()).toContain(preload);
  });
});

describe('exec through nsenter, a restarted container', () => {
  it("enters the new main process's namespaces, never the dead pid's", async () => {
    const id = await startContainer();
    expect((await run(nsenter, id, ['true'])).exitCode).toBe(0);
    const oldPid = await mainPid(id);
    await docker.getContainer(id).restart({ t: 0 });
    const newPid = await mainPid(id);
    expect(newPid).not.toBe(oldPid);

    // /proc/1 inside is the container's init: the restarted one.
    const r = await run(nsenter, id, ['cat', '/proc/1/stat']);
    expect(r.exitCode).toBe(0);
    expect(parseStartTime(r.stdout.toString())).toBe(parseStartTime(readFileSync(`/proc/${newPid}/stat`, 'utf8')));
    const pidNs = (await run(nsenter, id, ['readlink', '/proc/self/ns/pid'])).stdout.toString().trim();
    expect(pidNs).toBe(readlinkSync(`/proc/${newPid}/ns/pid`));
  });

  it('reports a stopped container through Docker and a removed one as not found', async () => {
    const id = await startContainer();
    expect((await run(nsenter, id, ['true'])).exitCode).toBe(0);
    await docker.getContainer(id).stop({ t: 0 });
    await expect(run(nsenter, id, ['true'])).rejects.toThrow(/is not running/);
    await nsenter.removeContainer(id);
    const err = await run(nsenter, id, ['true']).catch((e: unknown) => e);
    expect(isRuntimeError(err, 'NotFound')).toBe(true);
  });
});
