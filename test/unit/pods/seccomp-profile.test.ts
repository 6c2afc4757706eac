// seccompProfile from the pod spec to Docker's SecurityOpt: the container's profile
// wins over the pod's, none means Unconfined (kubelet's default without
// --seccomp-default), and a bad profile is refused with its field.
import { describe, expect, it } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { generateContainerConfig } from '../../../agent/pods/container-config.js';
import { applyPodDefaults } from '../../../agent/sources/pod-defaults.js';
import { validatePod } from '../../../agent/sources/pod-validation.js';
import { containerCreateOptions, seccompSecurityOpt } from '../../../agent/runtime/docker/container-create-options.js';
import type { PodSandboxConfig } from '../../../agent/runtime/runtime.js';

function pod(podProfile?: object, containerProfile?: object): Pod {
  return {
    metadata: { name: 'web', namespace: 'default', uid: 'uid-1' },
    spec: {
      ...(podProfile ? { securityContext: { seccompProfile: podProfile } } : {}),
      containers: [{ name: 'app', image: 'busybox:1', ...(containerProfile ? { securityContext: { seccompProfile: containerProfile } } : {}) }],
    },
  } as Pod;
}

function seccompOf(p: Pod) {
  return generateContainerConfig({
    pod: p,
    container: p.spec.containers[0]!,
    kind: 'regular',
    attempt: 0,
    podSource: 'file',
    config: { containerLogMaxSize: '10m', containerLogMaxFiles: 5 },
    imageRef: 'sha256:abc',
    hostsFilePath: '/h',
    podIP: '10.0.0.2',
    hostIP: '10.0.0.1',
    nodeName: 'n',
  }).securityContext.seccomp;
}

describe('seccompProfile', () => {
  it("takes the container's profile over the pod's, and leaves it unset when neither names one", () => {
    expect(seccompOf(pod())).toBeUndefined();
    expect(seccompOf(pod({ type: 'RuntimeDefault' }))).toEqual({ type: 'RuntimeDefault' });
    expect(seccompOf(pod({ type: 'RuntimeDefault' }, { type: 'Unconfined' }))).toEqual({ type: 'Unconfined' });
    expect(seccompOf(pod(undefined, { type: 'Localhost', localhostProfile: 'audit.json' }))).toEqual({ type: 'Localhost', localhostProfile: 'audit.json' });
  });

  it("becomes Docker's option: unconfined by default, Docker's profile for RuntimeDefault, the JSON for Localhost", () => {
    expect(seccompSecurityOpt(undefined)).toBe('seccomp=unconfined');
    expect(seccompSecurityOpt({ type: 'Unconfined' })).toBe('seccomp=unconfined');
    expect(seccompSecurityOpt({ type: 'RuntimeDefault' })).toBeUndefined();
    expect(seccompSecurityOpt({ type: 'Localhost', localhostProfile: 'a.json' }, '{"defaultAction":"SCMP_ACT_ALLOW"}')).toBe(
      'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}',
    );
    expect(() => seccompSecurityOpt({ type: 'Localhost', localhostProfile: 'a.json' })).toThrow(/not read/);
  });

  it('sets no seccomp option on a privileged container, and keeps no-new-privileges beside it', () => {
    const base = { metadata: { name: 'app', attempt: 0 }, image: 'x', envs: [], mounts: [], labels: {}, annotations: {}, resources: {} };
    const sandbox = { metadata: { name: 'web', namespace: 'default', uid: 'u', attempt: 0 } } as unknown as PodSandboxConfig;
    const ns = { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } as const;
    const opts = (sc: object) =>
      containerCreateOptions('sb', { ...base, securityContext: { namespaces: ns, ...sc } } as never, sandbox).HostConfig?.SecurityOpt;
    expect(opts({ privileged: true })).toBeUndefined();
    expect(opts({ noNewPrivs: true })).toEqual(['no-new-privileges', 'seccomp=unconfined']);
    expect(opts({ seccomp: { type: 'RuntimeDefault' } })).toBeUndefined();
  });

  it('refuses an unknown type, a Localhost profile without a path or leaving the profile root, and a path on another type', () => {
    const errors = (p: Pod) => validatePod(applyPodDefaults(p)).map((e) => `${e.field}: ${e.message || e.type}`);
    expect(errors(pod({ type: 'Strict' }))).toEqual([expect.stringMatching(/^spec\.securityContext\.seccompProfile\.type: /)]);
    expect(errors(pod(undefined, { type: 'Localhost' }))).toEqual([
      expect.stringMatching(/containers\[0\]\.securityContext\.seccompProfile\.localhostProfile/),
    ]);
    expect(errors(pod(undefined, { type: 'Localhost', localhostProfile: '../etc/x.json' }))[0]).toMatch(/without "\.\."/);
    expect(errors(pod({ type: 'RuntimeDefault', localhostProfile: 'a.json' }))[0]).toMatch(/only be set for type Localhost/);
    expect(errors(pod({ type: 'RuntimeDefault' }, { type: 'Localhost', localhostProfile: 'profiles/a.json' }))).toEqual([]);
  });
});
