import { describe, it, expect } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { downwardAPIPayload, formatMap, goQuote, podFieldValue } from '../../../agent/volumes/downward-api-files.js';
import { PayloadError } from '../../../agent/volumes/payload.js';

function pod(): Pod {
  return {
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'uid-1',
      labels: { zone: 'eu-1', app: 'web', 'app.kubernetes.io/name': 'shop' },
      annotations: { 'example.com/note': 'say "hi"\nbye', build: '42' },
    },
    spec: {
      containers: [{ name: 'app', resources: { limits: { cpu: '500m', memory: '64Mi' } } }, { name: 'sidecar' }],
      initContainers: [{ name: 'init', resources: { requests: { cpu: '100m' } } }],
    },
  };
}

const ctx = { nodeName: 'node-1', nodeAllocatable: { cpuMilli: 4000, memoryBytes: 2 * 1024 ** 3 } };

function text(payload: Map<string, { data: Buffer }>, path: string): string | undefined {
  return payload.get(path)?.data.toString('utf8');
}

describe('goQuote (Go %q)', () => {
  it.each([
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['C:\\dir', '"C:\\\\dir"'],
    ['a\tb\nc\rd', '"a\\tb\\nc\\rd"'],
    ['\x07\b\f\v', '"\\a\\b\\f\\v"'],
    ['\x00\x01\x1b\x7f', '"\\x00\\x01\\x1b\\x7f"'],
    ['café 😀 日本', '"café 😀 日本"'],
    ['no\u00a0break', '"no\\u00a0break"'],
    ['zero\u200bwidth', '"zero\\u200bwidth"'],
    ['tag\u{e0001}', '"tag\\U000e0001"'],
    ['lone\ud800', '"lone\ufffd"'],
    ['', '""'],
  ])('quotes %j as %s', (input, quoted) => {
    expect(goQuote(input)).toBe(quoted);
  });
});

describe('formatMap (labels and annotations files)', () => {
  it('writes sorted key="value" lines without a trailing newline', () => {
    expect(formatMap({ zone: 'eu-1', app: 'web', 'app.kubernetes.io/name': 'shop' })).toBe('app="web"\napp.kubernetes.io/name="shop"\nzone="eu-1"');
    expect(formatMap({})).toBe('');
  });
});

describe('podFieldValue', () => {
  it('reads the pod fields a volume may show', () => {
    const p = pod();
    expect(podFieldValue(p, 'metadata.name')).toBe('web');
    expect(podFieldValue(p, 'metadata.namespace')).toBe('shop');
    expect(podFieldValue(p, 'metadata.uid')).toBe('uid-1');
    expect(podFieldValue(p, 'metadata.annotations')).toBe('build="42"\nexample.com/note="say \\"hi\\"\\nbye"');
    expect(podFieldValue(p, "metadata.labels['zone']")).toBe('eu-1');
    expect(podFieldValue(p, "metadata.annotations['absent']")).toBe('');
    expect(podFieldValue({ metadata: { name: 'x' }, spec: { containers: [] } }, 'metadata.namespace')).toBe('default');
  });

  it('refuses env-only and unknown fields, naming the field', () => {
    expect(() => podFieldValue(pod(), 'spec.nodeName', 'items[2].fieldRef.fieldPath')).toThrow(
      'items[2].fieldRef.fieldPath: unsupported fieldPath "spec.nodeName" in a downwardAPI volume',
    );
    expect(() => podFieldValue(pod(), 'status.podIP')).toThrow(PayloadError);
  });
});

describe('downwardAPIPayload', () => {
  it('writes one file per item with its mode or the default', () => {
    const payload = downwardAPIPayload(
      [
        { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
        { path: 'meta/name', fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v1' }, mode: 0o400 },
        { path: 'cpu_limit', resourceFieldRef: { containerName: 'app', resource: 'limits.cpu', divisor: '1m' } },
      ],
      pod(),
      ctx,
      0o644,
    );
    expect(text(payload, 'labels')).toBe('app="web"\napp.kubernetes.io/name="shop"\nzone="eu-1"');
    expect(text(payload, 'meta/name')).toBe('web');
    expect(payload.get('meta/name')?.mode).toBe(0o400);
    expect(payload.get('labels')?.mode).toBe(0o644);
    expect(text(payload, 'cpu_limit')).toBe('500');
  });

  it('reports container resources as kubelet does: requests default to limits, unset limits are node allocatable', () => {
    const payload = downwardAPIPayload(
      [
        { path: 'cpu', resourceFieldRef: { containerName: 'app', resource: 'limits.cpu' } },
        { path: 'mem_request', resourceFieldRef: { containerName: 'app', resource: 'requests.memory' } },
        { path: 'sidecar_mem_limit', resourceFieldRef: { containerName: 'sidecar', resource: 'limits.memory', divisor: '1Mi' } },
        { path: 'init_cpu_request', resourceFieldRef: { containerName: 'init', resource: 'requests.cpu', divisor: '1m' } },
      ],
      pod(),
      ctx,
      0o644,
    );
    expect(text(payload, 'cpu')).toBe('1'); // 500m rounded up to whole cores
    expect(text(payload, 'mem_request')).toBe(String(64 * 1024 * 1024));
    expect(text(payload, 'sidecar_mem_limit')).toBe('2048');
    expect(text(payload, 'init_cpu_request')).toBe('100');
  });

  it('lists every failing item in one error', () => {
    const build = () =>
      downwardAPIPayload(
        [
          { path: 'ok', fieldRef: { fieldPath: 'metadata.name' } },
          { path: 'cpu', resourceFieldRef: { resource: 'limits.cpu' } },
          { path: 'x', resourceFieldRef: { containerName: 'ghost', resource: 'limits.cpu' } },
          { path: '../escape', fieldRef: { fieldPath: 'metadata.name' } },
          { path: 'node', fieldRef: { fieldPath: 'spec.nodeName' } },
          { path: 'empty' },
          { path: 'bad', resourceFieldRef: { containerName: 'app', resource: 'limits.gpu' } },
        ],
        pod(),
        ctx,
        0o644,
        'downwardAPI.items',
      );
    expect(build).toThrow(PayloadError);
    let message = '';
    try {
      build();
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('downwardAPI.items[1].resourceFieldRef.containerName: required in a volume');
    expect(message).toContain('downwardAPI.items[2].resourceFieldRef.containerName: container "ghost" not found in the pod');
    expect(message).toContain(`downwardAPI.items[3].path "../escape": invalid path: must not contain '..'`);
    expect(message).toContain('downwardAPI.items[4].fieldRef.fieldPath: unsupported fieldPath "spec.nodeName"');
    expect(message).toContain('downwardAPI.items[5]: must set fieldRef or resourceFieldRef');
    expect(message).toContain('downwardAPI.items[6].resourceFieldRef: unsupported container resource "limits.gpu"');
    expect(message).not.toContain('items[0]');
  });
});
