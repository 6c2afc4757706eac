// Starts `nodelet agent` in standalone mode for a benchmark, from the built tree, with
// only errors logged (its stdout is not read, so it must not fill a pipe).
import { type ChildProcess, spawn } from 'node:child_process';

export interface StandaloneAgentOptions {
  nodeName: string;
  rootDir: string;
  manifests: string;
  podCIDR: string;
  /** Node flags before the script (profiling, a preload). */
  nodeArgs?: string[];
  /** Agent flags after the standard ones (e.g. `--config FILE`). */
  agentArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

export function spawnStandaloneAgent(o: StandaloneAgentOptions): ChildProcess {
  const args = [
    ...(o.nodeArgs ?? []),
    'dist/agent/cli/main.js',
    'agent',
    '--node-name',
    o.nodeName,
    '--root-dir',
    o.rootDir,
    '--manifests',
    o.manifests,
    '--pod-cidr',
    o.podCIDR,
    '--log-level',
    'error',
    ...(o.agentArgs ?? []),
  ];
  return spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], ...(o.env ? { env: o.env } : {}) });
}
