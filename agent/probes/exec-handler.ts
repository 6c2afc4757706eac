// exec probes and hooks: a command run in the container through the runtime, killed
// at the timeout. Exit 0 is success; the output (stdout then stderr, capped as
// kubelet caps it at 10 KiB) is the message an operator reads.
import { isRuntimeError } from '../runtime/errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { ProbeError, elapsedMs, type ProbeOutcome } from './probe-outcome.js';

/** kubelet's maxReadLength for probe output. */
export const MAX_EXEC_OUTPUT_BYTES = 10 * 1024;

/**
 * Runs `command` in the container. A non-zero exit or a timeout is a failure; a
 * runtime that cannot run the command at all throws ProbeError.
 */
export async function execProbe(runtime: Runtime, containerId: string, command: string[], timeoutMs: number): Promise<ProbeOutcome> {
  const start = performance.now();
  if (command.length === 0) throw new ProbeError('exec probe has an empty command');
  let result;
  try {
    result = await runtime.exec(containerId, command, { timeoutMs, maxOutputBytes: MAX_EXEC_OUTPUT_BYTES });
  } catch (err) {
    const why = isRuntimeError(err) ? err.message : String((err as Error)?.message ?? err);
    throw new ProbeError(`exec ${JSON.stringify(command)} in container ${containerId.slice(0, 12)} could not run: ${why}`, { cause: err });
  }
  const latencyMs = elapsedMs(start);
  // kubelet's message for a timed-out exec probe (its output is thrown away).
  if (result.timedOut) return { result: 'failure', message: `command ${JSON.stringify(command.join(' '))} timed out`, latencyMs };
  const output = Buffer.concat([result.stdout, result.stderr]).subarray(0, MAX_EXEC_OUTPUT_BYTES).toString('utf8');
  if (result.exitCode === 0) return { result: 'success', message: output, latencyMs };
  // kubelet's message is the bare output; an empty one would leave the event blank.
  const message = output.length > 0 ? output : `command ${JSON.stringify(command.join(' '))} exited with code ${result.exitCode}`;
  return { result: 'failure', message, latencyMs };
}
