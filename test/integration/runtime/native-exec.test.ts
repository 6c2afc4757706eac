// Exec through the native helper against real containers: the command is confined
// as Docker's own exec (runc) confines it — cgroups, capability sets, no_new_privs,
// rlimits, oom_score_adj, credentials, namespaces, root and working directory — and
// a container with a seccomp filter is left to Docker's exec.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type EngineRuntime } from '../../../agent/runtime/create-runtime.js';
import { NATIVE_EXEC_HELPER_PATH, nativeExecHelperInstalled } from '../../../agent/runtime/docker/exec/native-exec-helper.js';
import {
  NativeExecProtocolError,
  decodeNativeExecHello,
  decodeNativeExecReplies,
  encodeNativeExecFrame,
  encodeNativeExecTemplate,
} from '../../../agent/runtime/docker/exec/native-exec-protocol.js';
import { busyboxImageTag } from '../../../agent/runtime/docker/local-images.js';
import { TEST_RUN_LABEL, docker, removeAllWithLabel, runId } from '../../support/docker.js';
import { PLACEHOLDER_EXEC_TEMPLATE } from '../../support/native-exec-fixtures.js';

const BUSYBOX = busyboxImageTag();
let native: EngineRuntime;
let viaDocker: EngineRuntime;
let counter = 0;

interface ContainerOptions {
  user?: string;
  seccomp?: 'unconfined' | 'default';
  host?: Record<string, unknown>;
}

async function startContainer(options: ContainerOptions = {}): Promise<string> {
  const container = await docker.createContainer({
    name: `native-exec-it-${runId}-${counter++}`,
    Image: BUSYBOX,
    Cmd: ['sleep', '3600'],
    Env: ['GREETING=hello world'],
    WorkingDir: '/tmp',
    ...(options.user ? { User: options.user } : {}),
    Labels: { [TEST_RUN_LABEL]: runId },
    HostConfig: {
      ...(options.seccomp === 'default' ? {} : { SecurityOpt: ['seccomp=unconfined', ...((options.host?.SecurityOpt as string[]) ?? [])] }),
      ...Object.fromEntries(Object.entries(options.host ?? {}).filter(([k]) => k !== 'SecurityOpt')),
    },
  });
  await container.start();
  return container.id;
}

const run = (runtime: EngineRuntime, id: string, cmd: string[], timeoutMs = 10_000) => runtime.exec(id, cmd, { timeoutMs });

/** What a process sees of its own confinement, from inside the container. */
const SELF = [
  'sh',
  '-c',
  [
    'grep -E "^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status',
    'cat /proc/self/cgroup | sort',
    'cat /proc/self/oom_score_adj',
    'ulimit -n',
    'pwd',
    'for ns in mnt uts ipc net pid cgroup; do readlink /proc/self/ns/$ns; done',
    'echo "$GREETING"',
  ].join('; '),
];

beforeAll(async () => {
  expect(nativeExecHelperInstalled(), 'npm run build makes dist/native/nsexec-helper').toBe(true);
  native = createRuntime({ requestTimeoutMs: 30_000, execHandler: 'auto' });
  viaDocker = createRuntime({ requestTimeoutMs: 30_000, execHandler: 'docker' });
  await native.ensureLocalImages();
});

afterAll(async () => {
  await removeAllWithLabel(TEST_RUN_LABEL, runId);
});

describe('exec through the native helper', () => {
  it('is what auto resolves to for a root agent', () => {
    expect(native.execHandler).toBe('native');
    expect(viaDocker.execHandler).toBe('docker');
  });

  it('confines a root command exactly as Docker exec does', async () => {
    const id = await startContainer({
      host: {
        CapAdd: ['NET_ADMIN'],
        CapDrop: ['NET_RAW', 'CHOWN'],
        SecurityOpt: ['no-new-privileges'],
        OomScoreAdj: 500,
        Ulimits: [{ Name: 'nofile', Soft: 4321, Hard: 4321 }],
      },
    });
    const ours = await run(native, id, SELF);
    const dockers = await run(viaDocker, id, SELF);
    expect(ours.exitCode, ours.stderr.toString()).toBe(0);
    expect(ours.stdout.toString()).toBe(dockers.stdout.toString());
    // The comparison means something: the container's own settings are in it.
    expect(ours.stdout.toString()).toContain(id);
    expect(ours.stdout.toString()).toMatch(/NoNewPrivs:\s+1/);
    expect(ours.stdout.toString()).toMatch(/\n500\n4321\n\/tmp\n/);
  });

  it('runs as the numeric user and groups of the container, with no capabilities, as Docker exec does', async () => {
    const id = await startContainer({ user: '1000:1000', host: { GroupAdd: ['2000', '3000'] } });
    const ours = await run(native, id, SELF);
    const dockers = await run(viaDocker, id, SELF);
    expect(ours.exitCode, ours.stderr.toString()).toBe(0);
    expect(ours.stdout.toString()).toBe(dockers.stdout.toString());
    expect(ours.stdout.toString()).toMatch(/Groups:\s+1000 2000 3000/);
    expect(ours.stdout.toString()).toMatch(/CapEff:\s+0000000000000000/);
  });

  it('returns exit codes and output as Docker exec does, and a missing command as 127', async () => {
    const id = await startContainer();
    const r = await run(native, id, ['sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(r).toMatchObject({ exitCode: 7, timedOut: false });
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr.toString()).toBe('err\n');
    const missing = await run(native, id, ['no-such-command']);
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr.toString()).toContain('no-such-command');
    const killed = await run(native, id, ['sh', '-c', 'kill -9 $$']);
    expect(killed.exitCode).toBe(137);
  });

  it('kills the command and everything it started at the timeout', async () => {
    const id = await startContainer();
    const started = Date.now();
    const r = await run(native, id, ['sh', '-c', 'sleep 300 & sleep 300'], 500);
    expect(r.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Nothing of it is left in the container.
    await expect.poll(async () => (await run(viaDocker, id, ['ps', '-o', 'args'])).stdout.toString(), { timeout: 10_000 }).not.toContain('sleep 300');
  });

  it('leaves a container with a seccomp filter to Docker exec', async () => {
    const id = await startContainer({ seccomp: 'default' });
    const r = await run(native, id, ['grep', 'Seccomp:', '/proc/self/status']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toMatch(/Seccomp:\s+2/);
  });

  it('follows a restarted container to its new main process', async () => {
    const id = await startContainer();
    const before = (await run(native, id, ['readlink', '/proc/1/ns/pid'])).stdout.toString();
    await docker.getContainer(id).restart({ t: 0 });
    const after = await run(native, id, ['sh', '-c', 'readlink /proc/1/ns/pid; cat /proc/1/cmdline']);
    expect(after.exitCode, after.stderr.toString()).toBe(0);
    expect(after.stdout.toString()).not.toBe(before);
    expect(after.stdout.toString()).toContain('sleep');
  });
});

describe('the native helper protocol version, checked on both sides', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nodelet-helper-v2-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the helper refuses a request of another version, saying both', async () => {
    const child = spawn(NATIVE_EXEC_HELPER_PATH, [], { env: {}, stdio: ['pipe', 'pipe', 'ignore'] });
    let data = Buffer.alloc(0);
    child.stdout.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
    });
    const template = encodeNativeExecTemplate(PLACEHOLDER_EXEC_TEMPLATE);
    child.stdin.write(encodeNativeExecFrame(42, template, { argv: ['true'], timeoutMs: 1000, maxOutputBytes: 10 }, 9));
    await expect
      .poll(
        () => {
          const hello = decodeNativeExecHello(data);
          return 'rest' in hello ? decodeNativeExecReplies(hello.rest).replies.length : 0;
        },
        { timeout: 5_000 },
      )
      .toBe(1);
    child.stdin.end();
    const hello = decodeNativeExecHello(data) as { version: number; rest: Buffer };
    expect(hello.version).toBe(1);
    const [reply] = decodeNativeExecReplies(hello.rest).replies;
    expect(reply?.id).toBe(42);
    const error = (reply as { error: Error }).error;
    // What the helper speaks comes back in the refusal (the agent always sends its own version).
    expect(error).toBeInstanceOf(NativeExecProtocolError);
    expect((error as NativeExecProtocolError).helperVersion).toBe(1);
  });

  it('a helper built for another version leaves every exec to Docker', async () => {
    const variant = join(dir, 'nsexec-helper-v2');
    execFileSync(process.env['CC'] ?? 'cc', [
      '-O2',
      '-std=gnu11',
      '-DNSEXEC_PROTOCOL_VERSION=2',
      '-o',
      variant,
      'agent/runtime/docker/exec/native/nsexec-helper.c',
    ]);
    const runtime = createRuntime({ requestTimeoutMs: 30_000, execHandler: 'auto', nativeExecHelperPath: variant });
    expect(runtime.execHandler).toBe('native');
    const id = await startContainer();
    const r = await run(runtime, id, ['sh', '-c', 'echo "$GREETING"']);
    expect(r).toMatchObject({ exitCode: 0, timedOut: false });
    expect(r.stdout.toString()).toBe('hello world\n');
    expect(runtime.execHandler).toBe('docker');
  });
});
