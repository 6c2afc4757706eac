import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentImportGraph, checkLayering, type ImportEdge, importSpecifiers } from '../../../scripts/lint/layering.js';

const repo = path.resolve(import.meta.dirname, '..', '..', '..');
const edge = (from: string, to: string): ImportEdge => ({ from, to });
const rulesBroken = (edges: ImportEdge[]) => checkLayering(edges).map((v) => v.rule);

describe('layering rules', () => {
  it('hold for the agent as it is', () => {
    const graph = agentImportGraph(repo);
    expect(graph.length).toBeGreaterThan(500);
    expect(checkLayering(graph).map((v) => `${v.rule}: ${v.edge.from} -> ${v.edge.to}`)).toEqual([]);
  });

  it('fail on a deliberately wrong import of each kind', () => {
    expect(rulesBroken([edge('agent/api/quantity.ts', 'agent/pods/pod-worker.ts')])).toEqual([
      'agent/api is the neutral leaf: it imports nothing of the agent',
    ]);
    expect(rulesBroken([edge('agent/pods/pod-worker.ts', 'agent/runtime/docker/docker-runtime.ts')])).toEqual([
      'only agent/runtime knows an engine: nothing outside agent/runtime imports agent/runtime/<engine>/',
    ]);
    expect(rulesBroken([edge('agent/runtime/cri/cri-runtime.ts', 'agent/runtime/docker/names.ts')])).toEqual([
      'engines are sealed from each other: agent/runtime/<a>/ never imports agent/runtime/<b>/',
    ]);
    expect(rulesBroken([edge('agent/runtime/docker/docker-runtime.ts', 'agent/kube/client.ts')])).toEqual([
      'agent/runtime imports nothing of pods, sources, status or kube',
    ]);
    expect(rulesBroken([edge('agent/kube/informer.ts', 'agent/runtime/runtime.ts')])).toEqual(['agent/kube knows nothing of containers']);
    expect(rulesBroken([edge('agent/network/proxy/proxier.ts', 'agent/pods/pod-phase.ts')])).toEqual(['the Service proxy does not import agent/pods']);
  });

  it('fail when two folders import each other, naming both directions', () => {
    const violations = checkLayering([edge('agent/pods/a.ts', 'agent/status/b.ts'), edge('agent/status/c.ts', 'agent/pods/d.ts')]);
    expect(violations).toHaveLength(1);
    expect(violations[0]?.rule).toContain('agent/pods and agent/status import each other');
  });

  it('let the engine factory reach down into its engine folders', () => {
    expect(
      checkLayering([
        edge('agent/runtime/create-runtime.ts', 'agent/runtime/docker/docker-runtime.ts'),
        edge('agent/runtime/docker/x.ts', 'agent/runtime/runtime.ts'),
      ]),
    ).toEqual([]);
  });

  it('count an engine folder and its subfolders as one unit', () => {
    expect(
      checkLayering([edge('agent/runtime/docker/a.ts', 'agent/runtime/docker/exec/b.ts'), edge('agent/runtime/docker/exec/c.ts', 'agent/runtime/docker/d.ts')]),
    ).toEqual([]);
  });
});

describe('importSpecifiers', () => {
  it('finds static, type-only, re-export, side-effect and dynamic imports, but not commented ones', () => {
    const source = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      'import {',
      '  c,',
      '  type D,',
      "} from './c.js';",
      "export { e } from './e.js';",
      "import './side-effect.js';",
      "const f = await import('./f.js');",
      "// import { g } from './g.js';",
      "/* import { h } from './h.js'; */",
      "const url = 'http://example.invalid/x'; import { i } from './i.js';",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(['./a.js', '../b.js', './c.js', './e.js', './side-effect.js', './f.js', './i.js']);
  });
});
