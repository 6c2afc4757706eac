// The V8 flags the agent process runs with. V8 sizes its heap once, when the process
// starts, so `nodelet agent` started without them (`node main.js agent`, the
// package's bin) replaces itself with a process that has them: process.execve keeps
// the PID, the open descriptors and the environment, so whoever started the agent
// (a service manager, a test, a benchmark) still holds the same process.

/**
 * The young generation's semi-spaces, in MiB. V8 grows them with the allocation rate
 * up to 64 MiB each on a 64-bit host: 100 probes a second took the agent's new space
 * to 64 MiB committed, and a burst of pod starts doubled it, memory kept as long as
 * the rate lasts. At 2 MiB a scavenge runs more often but copies as little (probe and
 * sync garbage dies young): no measurable CPU at 100 httpGet probes a second.
 */
export const AGENT_SEMI_SPACE_MIB = 2;

export const AGENT_NODE_FLAGS: readonly string[] = [`--max-semi-space-size=${AGENT_SEMI_SPACE_MIB}`];

function flagName(flag: string): string {
  return flag.split('=')[0]!.replace(/_/g, '-');
}

/** The agent's flags this process was started without (an operator's own setting, in argv or NODE_OPTIONS, wins). */
export function missingAgentNodeFlags(execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].filter((a) => a.startsWith('--')).map(flagName));
  return AGENT_NODE_FLAGS.filter((f) => !given.has(flagName(f)));
}

/**
 * Re-executes this process with the agent's flags when it lacks them; returns when it
 * has them, or when the platform cannot exec (the agent then runs with V8's defaults).
 */
export function relaunchWithAgentNodeFlags(): void {
  const missing = missingAgentNodeFlags(process.execArgv, process.env.NODE_OPTIONS);
  const script = process.argv[1];
  if (missing.length === 0 || !script || typeof process.execve !== 'function') return;
  try {
    process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, script, ...process.argv.slice(2)], process.env);
  } catch {
    // exec refused (no permission, a worker thread): run on with V8's defaults
  }
}
