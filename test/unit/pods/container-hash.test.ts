import { describe, expect, it } from 'vitest';
import type { Container } from '../../../agent/api/types.js';
import { canonicalJSON, fnv1a32, hashContainer } from '../../../agent/pods/container-hash.js';

const base: Container = {
  name: 'web',
  image: 'nginx:1.27',
  command: ['nginx'],
  args: ['-g', 'daemon off;'],
  env: [
    { name: 'A', value: '1' },
    { name: 'B', value: '2' },
  ],
  ports: [{ containerPort: 80, protocol: 'TCP' }],
  resources: { limits: { cpu: '500m', memory: '128Mi' } },
};

describe('hashContainer', () => {
  it('is 8 lower-case hex digits and pinned for a known spec (changing it restarts every container)', () => {
    expect(hashContainer(base)).toMatch(/^[0-9a-f]{8}$/);
    expect(hashContainer({ name: 'app', image: 'busybox' })).toBe('77970868');
    expect(hashContainer(base)).toBe('84a3d3ce');
  });

  it('implements FNV-1a 32 as published (test vectors)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('ignores the order keys were written in, at every depth', () => {
    const reordered: Container = {
      resources: { limits: { memory: '128Mi', cpu: '500m' } },
      ports: [{ protocol: 'TCP', containerPort: 80 }],
      env: [
        { value: '1', name: 'A' },
        { value: '2', name: 'B' },
      ],
      args: ['-g', 'daemon off;'],
      command: ['nginx'],
      image: 'nginx:1.27',
      name: 'web',
    };
    expect(hashContainer(reordered)).toBe(hashContainer(base));
  });

  it('drops undefined members', () => {
    expect(hashContainer({ ...base, workingDir: undefined, tty: undefined })).toBe(hashContainer(base));
  });

  it('changes when any field changes, including nested ones and array order', () => {
    const variants: Container[] = [
      { ...base, name: 'web2' },
      { ...base, image: 'nginx:1.28' },
      { ...base, args: ['daemon off;', '-g'] },
      {
        ...base,
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '3' },
        ],
      },
      { ...base, resources: { limits: { cpu: '501m', memory: '128Mi' } } },
      { ...base, ports: [{ containerPort: 81, protocol: 'TCP' }] },
      { ...base, tty: false },
      { ...base, workingDir: '/srv' },
    ];
    const hashes = new Set([hashContainer(base), ...variants.map(hashContainer)]);
    expect(hashes.size).toBe(variants.length + 1);
  });

  it('serializes canonically: sorted keys, arrays kept, non-finite numbers as null', () => {
    expect(canonicalJSON({ b: 1, a: [3, undefined, 'x'], c: { z: null, y: true }, d: undefined })).toBe('{"a":[3,null,"x"],"b":1,"c":{"y":true,"z":null}}');
    expect(canonicalJSON(Number.NaN)).toBe('null');
  });
});
