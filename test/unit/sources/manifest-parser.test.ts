import { describe, it, expect } from 'vitest';
import { isManifestFileName, parseManifestFile } from '../../../agent/sources/manifest-parser.js';

const POD = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: main\n    image: busybox\n';

describe('parseManifestFile', () => {
  it('reads YAML with 1.1 rules, as Kubernetes does: 0644 is octal, yes is true', () => {
    const text = `${POD}  volumes:\n  - name: cfg\n    configMap:\n      name: cfg\n      defaultMode: 0644\n  hostNetwork: yes\n`;
    const [doc] = parseManifestFile('/m/web.yaml', text);
    const spec = doc?.object?.spec as { volumes: Array<{ configMap: { defaultMode: number } }>; hostNetwork: boolean };
    expect(spec.volumes[0]?.configMap.defaultMode).toBe(420);
    expect(spec.hostNetwork).toBe(true);
  });

  it('keeps timestamp- and sexagesimal-looking scalars as strings (go-yaml v2 does)', () => {
    const [doc] = parseManifestFile('/m/a.yaml', 'kind: Pod\nmetadata:\n  annotations:\n    date: 2024-01-01\n    time: 1:30\n');
    expect((doc?.object?.metadata as { annotations: unknown }).annotations).toEqual({ date: '2024-01-01', time: '1:30' });
  });

  it('splits multi-document YAML, skips empty documents and numbers the rest', () => {
    const text = `---\n---\n${POD}---\n# only a comment\n---\napiVersion: v1\nkind: Service\nmetadata: {name: svc}\n`;
    const docs = parseManifestFile('/m/multi.yml', text);
    expect(docs.map((d) => [d.index, d.kind, d.apiVersion])).toEqual([
      [0, 'Pod', 'v1'],
      [1, 'Service', 'v1'],
    ]);
    expect(docs.every((d) => d.path === '/m/multi.yml' && d.error === undefined)).toBe(true);
  });

  it('returns documents of other kinds with their kind so callers can skip them', () => {
    const docs = parseManifestFile('/m/x.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n');
    expect(docs).toHaveLength(1);
    expect(docs[0]?.kind).toBe('ConfigMap');
    expect(docs[0]?.object?.data).toEqual({ a: 'b' });
  });

  it('reads JSON, and splits a v1 List into its items', () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a' }, spec: { containers: [] } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } },
        { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b' }, spec: { containers: [] } },
      ],
    };
    const docs = parseManifestFile('/m/list.json', JSON.stringify(list));
    expect(docs.map((d) => [d.index, d.kind, (d.object?.metadata as { name: string }).name])).toEqual([
      [0, 'Pod', 'a'],
      [1, 'Service', 's'],
      [2, 'Pod', 'b'],
    ]);
  });

  it('gives PodList items the Pod kind and the list apiVersion', () => {
    const docs = parseManifestFile('/m/pods.json', JSON.stringify({ apiVersion: 'v1', kind: 'PodList', items: [{ metadata: { name: 'a' } }] }));
    expect(docs[0]).toMatchObject({ kind: 'Pod', apiVersion: 'v1' });
  });

  it('reports a YAML syntax error as one entry naming the file and the line', () => {
    const docs = parseManifestFile('/m/broken.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n');
    expect(docs).toHaveLength(1);
    expect(docs[0]?.kind).toBeUndefined();
    expect(docs[0]?.object).toBeUndefined();
    expect(docs[0]?.error).toMatch(/^\/m\/broken\.yaml: line \d+, column \d+: /);
  });

  it('keeps the good documents of a file when another document is broken', () => {
    const docs = parseManifestFile('/m/mixed.yaml', `${POD}---\nkind: Pod\nmetadata: {name: [x\n`);
    expect(docs[0]?.kind).toBe('Pod');
    expect(docs[1]?.error).toContain('/m/mixed.yaml: line');
  });

  it('reports a JSON syntax error with the file and line', () => {
    const docs = parseManifestFile('/m/bad.json', '{\n  "kind": "Pod",\n  "metadata": {\n}\n');
    expect(docs).toHaveLength(1);
    expect(docs[0]?.error).toMatch(/^\/m\/bad\.json: line \d+, column \d+: /);
  });

  it('reports a document that is not an object', () => {
    const docs = parseManifestFile('/m/seq.yaml', '- a\n- b\n');
    expect(docs[0]?.error).toContain('is a sequence, not an object');
  });

  it('reports duplicate keys (a likely mistake) with the line', () => {
    const docs = parseManifestFile('/m/dup.yaml', 'kind: Pod\nkind: Pod\n');
    expect(docs[0]?.error).toMatch(/line 2/);
  });

  it('ignores hidden files and other extensions, as kubelet ignores hidden files', () => {
    expect(parseManifestFile('/m/.web.yaml.swp', POD)).toEqual([]);
    expect(parseManifestFile('/m/.web.yaml', POD)).toEqual([]);
    expect(parseManifestFile('/m/README.md', POD)).toEqual([]);
    expect(isManifestFileName('web.YAML')).toBe(true);
    expect(isManifestFileName('web.yml')).toBe(true);
    expect(isManifestFileName('.hidden.json')).toBe(false);
  });

  it('returns nothing for empty files', () => {
    expect(parseManifestFile('/m/empty.yaml', '')).toEqual([]);
    expect(parseManifestFile('/m/empty.json', '  \n')).toEqual([]);
  });
});
