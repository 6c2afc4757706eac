// The house rules on which folder may import which, checked on the real import graph
// (type-only imports included: a type is knowledge of the other side too). Biome
// catches file-level import cycles and bare engine-client imports; what it cannot
// express is a rule over resolved folders, which is what this does. Run by
// scripts/lint/main.ts (npm run lint) and by test/unit/lint/layering.test.ts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { listSources } from './source-files.js';

/** One edge of the import graph: `from` imports `to` (both paths relative to the repo, with `.ts`). */
export interface ImportEdge {
  from: string;
  to: string;
}

export interface LayeringViolation {
  rule: string;
  edge: ImportEdge;
}

interface FolderRule {
  name: string;
  /** Whether an import from folder `from` into folder `to` breaks this rule. */
  forbids(from: string, to: string): boolean;
}

const ENGINE_FOLDER = /^agent\/runtime\/[^/]+(\/|$)/;
const within = (folder: string, root: string): boolean => folder === root || folder.startsWith(`${root}/`);

/** The rules of issue 12 ("One-way house"), each named as an operator of the codebase would say it. */
export const FOLDER_RULES: readonly FolderRule[] = [
  {
    name: 'agent/api is the neutral leaf: it imports nothing of the agent',
    forbids: (from, to) => within(from, 'agent/api') && !within(to, 'agent/api'),
  },
  {
    name: 'only agent/runtime knows an engine: nothing outside agent/runtime imports agent/runtime/<engine>/',
    forbids: (from, to) => ENGINE_FOLDER.test(to) && !within(from, 'agent/runtime'),
  },
  {
    name: 'engines are sealed from each other: agent/runtime/<a>/ never imports agent/runtime/<b>/',
    forbids: (from, to) => ENGINE_FOLDER.test(from) && ENGINE_FOLDER.test(to) && from.split('/')[2] !== to.split('/')[2],
  },
  {
    name: 'agent/runtime imports nothing of pods, sources, status or kube',
    forbids: (from, to) => within(from, 'agent/runtime') && ['agent/pods', 'agent/sources', 'agent/status', 'agent/kube'].some((f) => within(to, f)),
  },
  {
    name: 'agent/kube knows nothing of containers',
    forbids: (from, to) =>
      within(from, 'agent/kube') &&
      ['agent/runtime', 'agent/pods', 'agent/pleg', 'agent/probes', 'agent/images', 'agent/volumes', 'agent/eviction'].some((f) => within(to, f)),
  },
  {
    name: 'the Service proxy does not import agent/pods',
    forbids: (from, to) => within(from, 'agent/network/proxy') && within(to, 'agent/pods'),
  },
];

const folderOf = (file: string): string => path.posix.dirname(file);

/**
 * Files whose job is to wire a folder's implementations together: the engine factory
 * picks an engine folder under the folder that declares the interface engines
 * implement, so its edge down does not count against the one-way rule.
 */
export const COMPOSITION_ROOTS: ReadonlySet<string> = new Set(['agent/runtime/create-runtime.ts', 'agent/runtime/runtime-endpoint.ts']);

/** An engine is one unit for the one-way rule: its subfolders (docker/exec/) only group its files for reading. */
const unitOf = (folder: string): string => /^agent\/runtime\/[^/]+/.exec(folder)?.[0] ?? folder;

/** The violations of FOLDER_RULES and of the one-way rule (no two folders import each other). */
export function checkLayering(edges: readonly ImportEdge[], rules: readonly FolderRule[] = FOLDER_RULES): LayeringViolation[] {
  const violations: LayeringViolation[] = [];
  const folderEdges = new Map<string, ImportEdge>();
  for (const edge of edges) {
    const from = folderOf(edge.from);
    const to = folderOf(edge.to);
    if (from === to) continue;
    for (const rule of rules) if (rule.forbids(from, to)) violations.push({ rule: rule.name, edge });
    const key = `${unitOf(from)} ${unitOf(to)}`;
    if (unitOf(from) !== unitOf(to) && !COMPOSITION_ROOTS.has(edge.from) && !folderEdges.has(key)) folderEdges.set(key, edge);
  }
  for (const [key, edge] of folderEdges) {
    const [from, to] = key.split(' ') as [string, string];
    const back = folderEdges.get(`${to} ${from}`);
    // Report each two-way pair once, with one example edge of each direction.
    if (back && from < to) {
      violations.push({ rule: `imports flow one way: ${from} and ${to} import each other (back: ${back.from} -> ${back.to})`, edge });
    }
  }
  return violations;
}

/** Module specifiers of a TypeScript source: static imports and exports, `import type`, and `import('…')`. */
export function importSpecifiers(source: string): string[] {
  const specifiers: string[] = [];
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const pattern = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of withoutComments.matchAll(pattern)) specifiers.push((m[1] ?? m[2] ?? m[3]) as string);
  return specifiers;
}

/** The relative-import graph of everything under `agent/` in the repository at `root`. */
export function agentImportGraph(root: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of listSources(root, 'agent')) {
    for (const spec of importSpecifiers(readFileSync(path.join(root, file), 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
      edges.push({ from: file, to });
    }
  }
  return edges;
}
