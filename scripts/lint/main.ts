// npm run lint's own checks, after Biome: the folder layering rules and exports
// nothing imports. Exits non-zero with one line per finding.
import path from 'node:path';
import { agentImportGraph, checkLayering } from './layering.js';
import { repoModules, unusedExports } from './unused-exports.js';

const root = process.cwd();
let failed = false;
const violations = checkLayering(agentImportGraph(root));
for (const v of violations) console.error(`layering: ${v.rule}\n  ${v.edge.from} -> ${v.edge.to}`);
if (violations.length > 0) failed = true;
const unused = unusedExports(repoModules(root));
for (const u of unused) console.error(`unused export: ${u} (make it private or remove it)`);
if (unused.length > 0) failed = true;
if (failed) {
  console.error(`lint: ${violations.length} layering violation(s), ${unused.length} unused export(s) in ${path.basename(root)}`);
  process.exit(1);
}
console.log('lint: imports follow the house rules, and every export is imported somewhere');
