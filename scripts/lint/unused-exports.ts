// Exports nothing imports. An export is a promise to other modules; one nobody takes
// up is dead code or a name that should be private, and it hides what a module's
// real surface is. The usual tools (knip, ts-prune) need the TypeScript compiler API,
// which TypeScript 7 does not offer, so this reads the import clauses itself: a name
// counts as used when a module elsewhere in agent/, scripts/ or test/ imports it from
// the module that exports it (or re-exports it, or takes the whole namespace). An
// export its own module uses (a type in an exported signature) is left alone, as
// knip's ignoreExportsUsedInFile does: only exports nothing uses at all are dead.
//
// Run by scripts/lint/main.ts (npm run lint).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { listSources } from './source-files.js';

export interface ModuleFacts {
  /** Names the module exports (declarations and `export { … }` lists). */
  exports: string[];
  /** Exported names the module also uses itself (more than one mention): kept, as knip's ignoreExportsUsedInFile. */
  usedInFile: Set<string>;
  /** Per resolved target module: the names imported from it, or '*' for a namespace import or `export *`. */
  imports: Map<string, Set<string>>;
}

const stripComments = (source: string): string => source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

const listNames = (clause: string): string[] =>
  clause
    .split(',')
    .map((part) =>
      part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)[0]
        ?.trim(),
    )
    .filter((n): n is string => !!n && /^[A-Za-z_$][\w$]*$/.test(n));

/** What a module exports and imports, from its source; `file` is repo-relative, targets are resolved to `.ts`. */
export function moduleFacts(file: string, source: string): ModuleFacts {
  const text = stripComments(source);
  const exports: string[] = [];
  for (const m of text.matchAll(
    /^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|class|const|let|var|interface|type|enum)\s+([A-Za-z_$][\w$]*)/gm,
  )) {
    exports.push(m[1] as string);
  }
  for (const m of text.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}\s*(?:from\s*['"]([^'"]+)['"])?/gm)) {
    if (m[2] === undefined) exports.push(...listNames(m[1] as string));
  }
  const usedInFile = new Set<string>();
  // A spread (`...NAME`) is a use, not a property access.
  const uses = text.replace(/\.\.\./g, ' ');
  for (const name of exports) {
    if ((uses.match(new RegExp(`(?<![\\w$.])${name.replace(/\$/g, '\\$')}(?![\\w$])`, 'g')) ?? []).length > 1) usedInFile.add(name);
  }
  const imports = new Map<string, Set<string>>();
  const take = (spec: string, names: string[]) => {
    if (!spec.startsWith('.')) return;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
    const set = imports.get(target) ?? new Set<string>();
    for (const n of names) set.add(n);
    imports.set(target, set);
  };
  for (const m of text.matchAll(/(?:^|[\s;])(?:import|export)\s+(?:type\s+)?([^'"`;]*?)\s*from\s*['"]([^'"]+)['"]/gm)) {
    const clause = m[1] as string;
    const names: string[] = [];
    if (/\*/.test(clause)) names.push('*');
    const braces = /\{([^}]*)\}/.exec(clause);
    if (braces) names.push(...listNames(braces[1] as string));
    const head = clause
      .replace(/\{[^}]*\}/, '')
      .replace(/\*\s+as\s+\w+/, '')
      .replace(/^type\s+/, '')
      .replace(/,/g, ' ')
      .trim();
    if (head) names.push('default');
    take(m[2] as string, names);
  }
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) take(m[1] as string, ['*']);
  return { exports, usedInFile, imports };
}

/** `module: name` for each export of an agent/ module that no other module imports. */
export function unusedExports(modules: ReadonlyMap<string, ModuleFacts>): string[] {
  const used = new Map<string, Set<string>>();
  for (const facts of modules.values()) {
    for (const [target, names] of facts.imports) {
      const set = used.get(target) ?? new Set<string>();
      for (const n of names) set.add(n);
      used.set(target, set);
    }
  }
  const unused: string[] = [];
  for (const [file, facts] of modules) {
    if (!file.startsWith('agent/')) continue;
    const names = used.get(file);
    if (names?.has('*')) continue;
    for (const name of facts.exports) if (!names?.has(name) && !facts.usedInFile.has(name)) unused.push(`${file}: ${name}`);
  }
  return unused.sort();
}

/** Facts of every module under agent/, scripts/ and test/ of the repository at `root`. */
export function repoModules(root: string): Map<string, ModuleFacts> {
  const modules = new Map<string, ModuleFacts>();
  for (const dir of ['agent', 'scripts', 'test']) {
    for (const file of listSources(root, dir)) modules.set(file, moduleFacts(file, readFileSync(path.join(root, file), 'utf8')));
  }
  return modules;
}
