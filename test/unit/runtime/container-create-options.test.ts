import { describe, expect, it } from 'vitest';
import { containerCreateOptions, dockerBind, entrypointAndCmd } from '../../../agent/runtime/docker/container-create-options.js';
import { CreateContainerError } from '../../../agent/runtime/errors.js';
import { containerConfig, sandboxConfig } from './fixtures.js';

const SANDBOX = 'f'.repeat(64);

describe('entrypointAndCmd (Kubernetes command/args over the image ENTRYPOINT/CMD)', () => {
  it('keeps both image settings when neither is given', () => {
    expect(entrypointAndCmd(undefined, undefined)).toEqual({});
    expect(entrypointAndCmd([], [])).toEqual({});
  });

  it('replaces the entrypoint and drops the image CMD when only command is given', () => {
    expect(entrypointAndCmd(['sleep'], undefined)).toEqual({ Entrypoint: ['sleep'], Cmd: [] });
  });

  it('replaces only CMD when only args is given', () => {
    expect(entrypointAndCmd(undefined, ['-c', 'echo'])).toEqual({ Cmd: ['-c', 'echo'] });
  });

  it('replaces both when both are given', () => {
    expect(entrypointAndCmd(['sh'], ['-c', 'echo hi'])).toEqual({ Entrypoint: ['sh'], Cmd: ['-c', 'echo hi'] });
  });
});

describe('dockerBind', () => {
  it('writes host:container with ro and propagation options', () => {
    expect(dockerBind({ hostPath: '/h', containerPath: '/c', readonly: false }, 'app')).toBe('/h:/c');
    expect(dockerBind({ hostPath: '/h', containerPath: '/c', readonly: true }, 'app')).toBe('/h:/c:ro');
    expect(dockerBind({ hostPath: '/h', containerPath: '/c', readonly: false, propagation: 'rslave' }, 'app')).toBe('/h:/c:rslave');
    expect(dockerBind({ hostPath: '/h', containerPath: '/c', readonly: true, propagation: 'rshared' }, 'app')).toBe('/h:/c:ro,rshared');
    expect(dockerBind({ hostPath: '/h', containerPath: '/c', readonly: false, propagation: 'private' }, 'app')).toBe('/h:/c');
  });

  it('refuses paths Docker would misread, naming the container and field', () => {
    expect(() => dockerBind({ hostPath: '/a:b', containerPath: '/c', readonly: false }, 'app')).toThrow(/container "app": mount hostPath "\/a:b"/);
    expect(() => dockerBind({ hostPath: '/h', containerPath: 'rel', readonly: false }, 'app')).toThrow(CreateContainerError);
  });
});

describe('containerCreateOptions', () => {
  it('joins the sandbox network and IPC namespaces, with restart, health and logs handled by nodelet', () => {
    const o = containerCreateOptions(
      SANDBOX,
      containerConfig({
        command: ['sh', '-c'],
        args: ['echo hi'],
        workingDir: '/w',
        envs: [
          { key: 'A', value: '1' },
          { key: 'B', value: 'x=y' },
        ],
        log: { maxSize: '10Mi', maxFiles: 5 },
        annotations: { note: 'n' },
      }),
      sandboxConfig(),
    );
    expect(o.name).toBe('k8s_app_web_default_uid-1_1');
    expect(o.Image).toBe('sha256:abc');
    expect(o.Entrypoint).toEqual(['sh', '-c']);
    expect(o.Cmd).toEqual(['echo hi']);
    expect(o.Env).toEqual(['A=1', 'B=x=y']);
    expect(o.WorkingDir).toBe('/w');
    expect(o.Labels).toMatchObject({
      'io.kubernetes.container.name': 'app',
      'io.kubernetes.docker.type': 'container',
      'io.kubernetes.sandbox.id': SANDBOX,
      'nodelet.io/annotation:note': 'n',
    });
    expect(o.HostConfig?.NetworkMode).toBe(`container:${SANDBOX}`);
    expect(o.HostConfig?.IpcMode).toBe(`container:${SANDBOX}`);
    expect(o.HostConfig?.PidMode).toBeUndefined();
    expect(o.HostConfig?.UTSMode).toBeUndefined();
    expect(o.HostConfig?.RestartPolicy).toEqual({ Name: 'no' });
    expect(o.Healthcheck).toEqual({ Test: ['NONE'] });
    expect(o.HostConfig?.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '10Mi', 'max-file': '5' } });
    expect(o.HostConfig?.Ulimits).toBeUndefined();
    expect(o.ExposedPorts).toBeUndefined();
    expect(o.Hostname).toBeUndefined();
    expect(o.User).toBeUndefined();
    expect(o.StopSignal).toBeUndefined();
  });

  it('drops the image CMD when only command is set, and leaves both unset without either', () => {
    expect(containerCreateOptions(SANDBOX, containerConfig({ command: ['sleep', '1'] }), sandboxConfig()).Cmd).toEqual([]);
    const neither = containerCreateOptions(SANDBOX, containerConfig(), sandboxConfig());
    expect(neither).not.toHaveProperty('Entrypoint');
    expect(neither).not.toHaveProperty('Cmd');
  });

  it('shares the sandbox PID namespace for shareProcessNamespace and the host one for hostPID', () => {
    const pod = containerCreateOptions(
      SANDBOX,
      containerConfig({ securityContext: { namespaces: { network: 'POD', pid: 'POD', ipc: 'POD' } } }),
      sandboxConfig(),
    );
    expect(pod.HostConfig?.PidMode).toBe(`container:${SANDBOX}`);
    const node = containerCreateOptions(
      SANDBOX,
      containerConfig({ securityContext: { namespaces: { network: 'NODE', pid: 'NODE', ipc: 'NODE' } } }),
      sandboxConfig(),
    );
    expect(node.HostConfig?.PidMode).toBe('host');
    expect(node.HostConfig?.NetworkMode).toBe('host');
    expect(node.HostConfig?.IpcMode).toBe('host');
    expect(node.HostConfig?.UTSMode).toBe('host');
  });

  it('maps mounts to binds with read-only and propagation', () => {
    const o = containerCreateOptions(
      SANDBOX,
      containerConfig({
        mounts: [
          { hostPath: '/var/lib/nodelet/pods/u/volumes/data', containerPath: '/data', readonly: false },
          { hostPath: '/etc/nodelet/hosts', containerPath: '/etc/hosts', readonly: true },
          { hostPath: '/mnt/shared', containerPath: '/shared', readonly: false, propagation: 'rshared' },
          { hostPath: '/mnt/slave', containerPath: '/slave', readonly: true, propagation: 'rslave' },
        ],
      }),
      sandboxConfig(),
    );
    expect(o.HostConfig?.Binds).toEqual([
      '/var/lib/nodelet/pods/u/volumes/data:/data',
      '/etc/nodelet/hosts:/etc/hosts:ro',
      '/mnt/shared:/shared:rshared',
      '/mnt/slave:/slave:ro,rslave',
    ]);
  });

  it('maps resources to cgroup settings, with swap equal to the memory limit', () => {
    const o = containerCreateOptions(
      SANDBOX,
      containerConfig({
        resources: { memoryLimitInBytes: 64 * 1024 * 1024, cpuQuota: 50_000, cpuPeriod: 100_000, cpuShares: 512 },
      }),
      sandboxConfig(),
    );
    expect(o.HostConfig).toMatchObject({ Memory: 67_108_864, MemorySwap: 67_108_864, CpuQuota: 50_000, CpuPeriod: 100_000, CpuShares: 512 });
    const none = containerCreateOptions(SANDBOX, containerConfig(), sandboxConfig()).HostConfig;
    expect(none?.Memory).toBeUndefined();
    expect(none?.CpuQuota).toBeUndefined();
  });

  it('maps the security context', () => {
    const o = containerCreateOptions(
      SANDBOX,
      containerConfig({
        securityContext: {
          namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' },
          runAsUser: 1000,
          runAsGroup: 3000,
          privileged: true,
          readonlyRootfs: true,
          capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] },
          noNewPrivs: true,
          supplementalGroups: [4000, 5000],
        },
        stopSignal: 'SIGQUIT',
        tty: true,
        stdin: true,
        stdinOnce: true,
      }),
      sandboxConfig(),
    );
    expect(o.User).toBe('1000:3000');
    expect(o.HostConfig).toMatchObject({
      Privileged: true,
      ReadonlyRootfs: true,
      CapAdd: ['NET_ADMIN'],
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      GroupAdd: ['4000', '5000'],
    });
    expect(o.StopSignal).toBe('SIGQUIT');
    expect(o).toMatchObject({ Tty: true, OpenStdin: true, StdinOnce: true });
    expect(
      containerCreateOptions(
        SANDBOX,
        containerConfig({
          securityContext: { namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' }, runAsUser: 0 },
        }),
        sandboxConfig(),
      ).User,
    ).toBe('0');
  });

  it('refuses runAsGroup without runAsUser with an error naming the container', () => {
    expect(() =>
      containerCreateOptions(
        SANDBOX,
        containerConfig({
          securityContext: { namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' }, runAsGroup: 10 },
        }),
        sandboxConfig(),
      ),
    ).toThrow(/container "app": securityContext.runAsGroup/);
  });
});
