// Volumes on real Docker, standalone: emptyDir shared between containers, a Memory
// emptyDir as tmpfs that survives a container restart, sizeLimit eviction, every
// hostPath type accepted and refused, allowedHostPaths, and subPath attacks refused
// with nothing outside the volume touched.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, containerStatus, dockerId, execIn, podManifest, startTestAgent, type TestAgent } from '../../support/agent-harness.js';
import type { PodStatus } from '../../../agent/api/types.js';

const run = promisify(execFile);
const sleepForever = ['sleep', '3600'];
const waitingMessage = (s: PodStatus, name: string) => containerStatus(s, name).state.waiting?.message ?? '';

describe('volumes', () => {
  let node: TestAgent;
  let host: string;
  let socketServer: Server;

  beforeAll(async () => {
    host = await mkdtemp(join(tmpdir(), 'nodelet-hostpath-'));
    await mkdir(join(host, 'dir'));
    await writeFile(join(host, 'file'), 'host file\n');
    await run('mknod', [join(host, 'chr'), 'c', '1', '3']);
    await run('mknod', [join(host, 'blk'), 'b', '7', '200']);
    socketServer = createServer();
    await new Promise<void>((r) => socketServer.listen(join(host, 'sock'), r));
    await mkdir(join(host, 'allowed'));
    await mkdir(join(host, 'outside'));
    await writeFile(join(host, 'outside', 'keep'), 'untouched\n');
    node = await startTestAgent({
      volumeStatsAggPeriodMs: 1_000,
      allowedHostPaths: [{ pathPrefix: host }, { pathPrefix: '/etc/hostname', readOnly: true }],
    });
  });
  afterAll(async () => {
    await node?.cleanup();
    await new Promise((r) => socketServer?.close(r));
    await rm(host, { recursive: true, force: true });
  });

  it('shares files between two containers through an emptyDir', async () => {
    await node.writeManifest('shared.yaml', [
      podManifest('shared', {
        volumes: [{ name: 'data', emptyDir: {} }],
        containers: [
          { name: 'writer', image: BUSYBOX, command: ['sh', '-c', 'echo hello > /out/msg; sleep 3600'], volumeMounts: [{ name: 'data', mountPath: '/out' }] },
          { name: 'reader', image: BUSYBOX, command: sleepForever, volumeMounts: [{ name: 'data', mountPath: '/in', readOnly: true }] },
        ],
      }),
    ]);
    const st = await node.waitForPod('shared', 'running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));
    const reader = dockerId(containerStatus(st, 'reader').containerID);
    await expect.poll(async () => (await execIn(reader, ['cat', '/in/msg'])).output.trim(), { timeout: 10_000 }).toBe('hello');
    const ro = await execIn(reader, ['sh', '-c', 'echo x > /in/other']);
    expect(ro.exitCode).not.toBe(0);
    const dir = join(node.config.rootDir, 'pods', node.pod('shared')!.pod.metadata.uid!, 'volumes', 'emptyDir', 'data');
    expect((await stat(join(dir, 'msg'))).isFile()).toBe(true);
  });

  it('mounts a Memory emptyDir as a tmpfs whose contents survive a container restart', async () => {
    await node.writeManifest('memory.yaml', [
      podManifest('memory', {
        terminationGracePeriodSeconds: 2,
        volumes: [{ name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }],
        containers: [
          {
            name: 'main',
            image: BUSYBOX,
            volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
            // The first run leaves a file and fails; the restarted one finds it and stays.
            command: [
              'sh',
              '-c',
              'grep " /scratch " /proc/mounts > /scratch/mounts; test -f /scratch/state && exec sleep 3600; echo kept > /scratch/state; exit 1',
            ],
          },
        ],
      }),
    ]);
    const again = await node.waitForPod(
      'memory',
      'restarted',
      (s) => containerStatus(s, 'main').restartCount >= 1 && containerStatus(s, 'main').state.running !== undefined,
    );
    const id2 = dockerId(containerStatus(again, 'main').containerID);
    expect((await execIn(id2, ['cat', '/scratch/state'])).output.trim()).toBe('kept');
    expect((await execIn(id2, ['cat', '/scratch/mounts'])).output).toMatch(/tmpfs \/scratch tmpfs .*size=16384k/);
  });

  it('evicts a pod whose emptyDir grows past its sizeLimit', async () => {
    await node.writeManifest('hog.yaml', [
      podManifest('hog', {
        terminationGracePeriodSeconds: 2,
        volumes: [{ name: 'cache', emptyDir: { sizeLimit: '1Mi' } }],
        containers: [
          {
            name: 'main',
            image: BUSYBOX,
            command: ['sh', '-c', 'dd if=/dev/zero of=/cache/blob bs=1024 count=3072; sleep 3600'],
            volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
          },
        ],
      }),
    ]);
    const st = await node.waitForPod('hog', 'evicted', (s) => s.phase === 'Failed', 60_000);
    expect(st.reason).toBe('Evicted');
    expect(st.message).toContain('"cache"');
    expect(st.message).toContain('1Mi');
    expect(containerStatus(st, 'main').state.terminated).toBeDefined();
  });

  it('accepts every hostPath type that matches and creates the *OrCreate ones', async () => {
    const volumes = [
      { name: 'any', hostPath: { path: join(host, 'file') } },
      { name: 'dir', hostPath: { path: join(host, 'dir'), type: 'Directory' } },
      { name: 'mkdir', hostPath: { path: join(host, 'made', 'deep'), type: 'DirectoryOrCreate' } },
      { name: 'file', hostPath: { path: join(host, 'file'), type: 'File' } },
      { name: 'touch', hostPath: { path: join(host, 'dir', 'new-file'), type: 'FileOrCreate' } },
      { name: 'sock', hostPath: { path: join(host, 'sock'), type: 'Socket' } },
      { name: 'chr', hostPath: { path: join(host, 'chr'), type: 'CharDevice' } },
      { name: 'blk', hostPath: { path: join(host, 'blk'), type: 'BlockDevice' } },
    ];
    await node.writeManifest('hostpaths.yaml', [
      podManifest('hostpaths', {
        volumes,
        containers: [
          {
            name: 'main',
            image: BUSYBOX,
            command: sleepForever,
            volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: `/host/${v.name}` })),
          },
        ],
      }),
    ]);
    const st = await node.waitForPod('hostpaths', 'running', (s) => containerStatus(s, 'main').state.running !== undefined);
    const id = dockerId(containerStatus(st, 'main').containerID);
    expect((await execIn(id, ['cat', '/host/file'])).output).toBe('host file\n');
    expect((await execIn(id, ['test', '-S', '/host/sock'])).exitCode).toBe(0);
    expect((await stat(join(host, 'made', 'deep'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(host, 'dir', 'new-file'))).mode & 0o777).toBe(0o644);
  });

  it('keeps containers from starting on a hostPath type mismatch, naming the path and what was found', async () => {
    const cases: Array<[string, string, string, RegExp]> = [
      ['dir-is-file', join(host, 'file'), 'Directory', /is not a directory.*found a regular file/],
      ['file-is-dir', join(host, 'dir'), 'File', /is not a regular file.*found a directory/],
      ['missing', join(host, 'nope'), 'Directory', /found nothing/],
      ['not-socket', join(host, 'file'), 'Socket', /is not a socket/],
      ['not-chr', join(host, 'blk'), 'CharDevice', /found a block device/],
      ['not-blk', join(host, 'chr'), 'BlockDevice', /found a character device/],
      ['no-parent', join(host, 'absent', 'f'), 'FileOrCreate', /parent directory .* does not exist/],
    ];
    await node.writeManifest(
      'mismatch.yaml',
      cases.map(([name, path, type]) =>
        podManifest(name, {
          volumes: [{ name: 'v', hostPath: { path, type } }],
          containers: [{ name: 'main', image: BUSYBOX, command: sleepForever, volumeMounts: [{ name: 'v', mountPath: '/v' }] }],
        }),
      ),
    );
    for (const [name, path, , pattern] of cases) {
      const st = await node.waitForPod(name, 'refused', (s) => waitingMessage(s, 'main').includes('MountVolume.SetUp failed'));
      expect(containerStatus(st, 'main').state.waiting?.reason).toBe('ContainerCreating');
      expect(waitingMessage(st, 'main')).toContain(path);
      expect(waitingMessage(st, 'main')).toMatch(pattern);
    }
    expect(await readdir(join(host))).not.toContain('absent');
  });

  it('refuses a hostPath outside allowedHostPaths, and a read-write mount of a read-only prefix', async () => {
    await node.writeManifest('disallowed.yaml', [
      podManifest('etc', {
        volumes: [{ name: 'etc', hostPath: { path: '/etc' } }],
        containers: [{ name: 'main', image: BUSYBOX, command: sleepForever, volumeMounts: [{ name: 'etc', mountPath: '/h' }] }],
      }),
      podManifest('rw', {
        volumes: [{ name: 'hn', hostPath: { path: '/etc/hostname' } }],
        containers: [{ name: 'main', image: BUSYBOX, command: sleepForever, volumeMounts: [{ name: 'hn', mountPath: '/h' }] }],
      }),
      podManifest('ro', {
        volumes: [{ name: 'hn', hostPath: { path: '/etc/hostname' } }],
        containers: [{ name: 'main', image: BUSYBOX, command: sleepForever, volumeMounts: [{ name: 'hn', mountPath: '/h', readOnly: true }] }],
      }),
    ]);
    const etc = await node.waitForPod('etc', 'refused', (s) => waitingMessage(s, 'main').includes('not allowed'));
    expect(waitingMessage(etc, 'main')).toContain('"/etc"');
    const rw = await node.waitForPod('rw', 'refused', (s) => waitingMessage(s, 'main').includes('read-only only'));
    expect(waitingMessage(rw, 'main')).toContain('container "main"');
    await node.waitForPod('ro', 'running', (s) => containerStatus(s, 'main').state.running !== undefined);
  });

  it('refuses subPath escapes and touches nothing outside the volume', async () => {
    const outside = join(host, 'outside');
    const before = await readdir(outside);
    const modeBefore = (await stat(outside)).mode;
    await node.writeManifest('subpath.yaml', [
      // Through a symlink the pod made inside its own volume.
      podManifest('symlink', {
        volumes: [{ name: 'v', emptyDir: {} }],
        initContainers: [{ name: 'prep', image: BUSYBOX, command: ['ln', '-s', outside, '/v/link'], volumeMounts: [{ name: 'v', mountPath: '/v' }] }],
        containers: [{ name: 'main', image: BUSYBOX, command: sleepForever, volumeMounts: [{ name: 'v', mountPath: '/x', subPath: 'link/sub' }] }],
      }),
      podManifest('symlink-etc', {
        volumes: [{ name: 'v', emptyDir: {} }],
        initContainers: [{ name: 'prep', image: BUSYBOX, command: ['ln', '-s', '/etc', '/v/etc'], volumeMounts: [{ name: 'v', mountPath: '/v' }] }],
        containers: [{ name: 'main', image: BUSYBOX, command: sleepForever, volumeMounts: [{ name: 'v', mountPath: '/x', subPath: 'etc' }] }],
      }),
      // subPathExpr passes API validation and only climbs out once expanded.
      podManifest('expr', {
        volumes: [{ name: 'v', emptyDir: {} }],
        containers: [
          {
            name: 'main',
            image: BUSYBOX,
            command: sleepForever,
            env: [{ name: 'UP', value: '..' }],
            volumeMounts: [{ name: 'v', mountPath: '/x', subPathExpr: '$(UP)/$(UP)' }],
          },
        ],
      }),
    ]);
    for (const name of ['symlink', 'symlink-etc']) {
      const st = await node.waitForPod(name, 'refused', (s) => containerStatus(s, 'main').state.waiting?.reason === 'CreateContainerConfigError');
      expect(waitingMessage(st, 'main')).toMatch(/symlink|symbolic link/i);
    }
    const expr = await node.waitForPod('expr', 'refused', (s) => containerStatus(s, 'main').state.waiting?.reason === 'CreateContainerConfigError');
    expect(waitingMessage(expr, 'main')).toContain('subPathExpr');
    expect(await readdir(outside)).toEqual(before);
    expect((await stat(outside)).mode).toBe(modeBefore);
  });

  it('refuses, on restart, a subPath directory the container swapped for a symlink', async () => {
    const outside = join(host, 'outside');
    const modeBefore = (await stat(outside)).mode;
    await node.writeManifest('swap.yaml', [
      podManifest('swap', {
        terminationGracePeriodSeconds: 2,
        volumes: [{ name: 'v', emptyDir: {} }],
        containers: [
          {
            name: 'main',
            image: BUSYBOX,
            // Runs once with the real directory, then swaps it for a link and exits.
            command: ['sh', '-c', `sleep 2; rm -rf /all/data && ln -s ${outside} /all/data; exit 1`],
            volumeMounts: [
              { name: 'v', mountPath: '/all' },
              { name: 'v', mountPath: '/data', subPath: 'data' },
            ],
          },
        ],
      }),
    ]);
    const st = await node.waitForPod(
      'swap',
      'refused after the swap',
      (s) => containerStatus(s, 'main').state.waiting?.reason === 'CreateContainerConfigError',
      90_000,
    );
    expect(waitingMessage(st, 'main')).toMatch(/symlink|symbolic link/i);
    expect(await readdir(outside)).toEqual(['keep']);
    expect((await stat(outside)).mode).toBe(modeBefore);
  });
});
