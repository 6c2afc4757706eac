import { describe, expect, it } from 'vitest';
import type { Container, Pod } from '../../../agent/api/types.js';
import { CreateContainerConfigError } from '../../../agent/api/pod-errors.js';
import { planVolumeMounts, subPathProblem } from '../../../agent/volumes/mount-plan.js';
import type { MountedVolume } from '../../../agent/volumes/types.js';

const vol = (hostPath: string, readOnly = false): MountedVolume => ({ hostPath, readOnly, dynamic: false });
const volumes = new Map([
  ['data', vol('/r/pods/u/volumes/emptyDir/data')],
  ['cfg', vol('/r/pods/u/volumes/configMap/cfg', true)],
]);

function pod(container: Container): Pod {
  return { metadata: { name: 'p', namespace: 'ns', uid: 'u' }, spec: { containers: [container] } };
}

function plan(volumeMounts: Container['volumeMounts'], env = new Map<string, string>()) {
  const c: Container = { name: 'main', image: 'x', volumeMounts };
  return planVolumeMounts(pod(c), c, env, volumes);
}

describe('planVolumeMounts', () => {
  it('maps mounts, readOnly (forced by the kind) and propagation', () => {
    const out = plan([
      { name: 'data', mountPath: '/data/' },
      { name: 'cfg', mountPath: '/etc/cfg' },
      { name: 'data', mountPath: '/shared', mountPropagation: 'HostToContainer', readOnly: true },
      { name: 'data', mountPath: '/bi', mountPropagation: 'Bidirectional' },
    ]);
    expect(out.map((m) => [m.containerPath, m.readOnly, m.propagation])).toEqual([
      ['/data', false, 'private'],
      ['/etc/cfg', true, 'private'],
      ['/shared', true, 'rslave'],
      ['/bi', false, 'rshared'],
    ]);
  });

  it('expands subPathExpr from the container environment only', () => {
    const out = plan([{ name: 'data', mountPath: '/logs', subPathExpr: 'logs/$(POD_NAME)' }], new Map([['POD_NAME', 'web-1']]));
    expect(out[0]!.subPath).toBe('logs/web-1');
  });

  it('refuses a mount naming no volume, with the field', () => {
    expect(() => plan([{ name: 'nope', mountPath: '/x' }])).toThrow(/spec\.containers\[0\]\.volumeMounts\[0\]\.name: volume "nope" is not defined/);
    expect(() => plan([{ name: 'nope', mountPath: '/x' }])).toThrow(CreateContainerConfigError);
  });

  it('refuses two mounts on one path', () => {
    expect(() =>
      plan([
        { name: 'data', mountPath: '/x' },
        { name: 'cfg', mountPath: '/x/' },
      ]),
    ).toThrow(/volumeMounts\[1\]\.mountPath: "\/x\/" is already mounted by volumeMounts\[0\]/);
  });

  it('refuses subPaths that are absolute or climb out, also after expansion', () => {
    expect(() => plan([{ name: 'data', mountPath: '/x', subPath: '/etc' }])).toThrow(/subPath: "\/etc" must be a relative path/);
    expect(() => plan([{ name: 'data', mountPath: '/x', subPath: 'a/../../b' }])).toThrow(/must not contain '\.\.'/);
    expect(() => plan([{ name: 'data', mountPath: '/x', subPathExpr: '$(UP)/etc' }], new Map([['UP', '..']]))).toThrow(/subPathExpr: "\.\.\/etc"/);
  });

  it('knows what a safe subPath is', () => {
    expect(subPathProblem('')).toBeUndefined();
    expect(subPathProblem('a/b..c/d')).toBeUndefined();
    expect(subPathProblem('..')).toBeDefined();
    expect(subPathProblem('a\0b')).toBeDefined();
  });
});
