import { describe, expect, it } from 'vitest';
import { execProbe, MAX_EXEC_OUTPUT_BYTES } from '../../../agent/probes/exec-handler.js';
import { ProbeError } from '../../../agent/probes/probe-outcome.js';
import { RuntimeUnavailableError } from '../../../agent/runtime/errors.js';
import type { ExecOptions, ExecResult, Runtime } from '../../../agent/runtime/runtime.js';

function runtimeAnswering(
  answer: (cmd: string[], options?: ExecOptions) => Promise<ExecResult>,
): Runtime & { calls: Array<{ id: string; cmd: string[]; options?: ExecOptions }> } {
  const calls: Array<{ id: string; cmd: string[]; options?: ExecOptions }> = [];
  return {
    calls,
    exec: async (id: string, cmd: string[], options?: ExecOptions) => {
      calls.push({ id, cmd, options });
      return answer(cmd, options);
    },
  } as unknown as Runtime & { calls: typeof calls };
}

const result = (exitCode: number, stdout = '', stderr = '', timedOut = false): ExecResult => ({
  exitCode,
  stdout: Buffer.from(stdout),
  stderr: Buffer.from(stderr),
  timedOut,
});

describe('execProbe', () => {
  it('succeeds on exit 0 and asks the runtime for the timeout and output cap', async () => {
    const runtime = runtimeAnswering(async () => result(0, 'ok\n'));
    expect(await execProbe(runtime, 'c1', ['cat', '/tmp/healthy'], 1500)).toMatchObject({ result: 'success', message: 'ok\n' });
    expect(runtime.calls).toEqual([{ id: 'c1', cmd: ['cat', '/tmp/healthy'], options: { timeoutMs: 1500, maxOutputBytes: MAX_EXEC_OUTPUT_BYTES } }]);
  });

  it('fails on a non-zero exit with the output as the message', async () => {
    const runtime = runtimeAnswering(async () => result(1, '', "cat: can't open '/tmp/healthy': No such file or directory\n"));
    expect(await execProbe(runtime, 'c1', ['cat', '/tmp/healthy'], 1000)).toMatchObject({
      result: 'failure',
      message: "cat: can't open '/tmp/healthy': No such file or directory\n",
    });
  });

  it('names the exit code when the command printed nothing', async () => {
    const runtime = runtimeAnswering(async () => result(3));
    expect(await execProbe(runtime, 'c1', ['false'], 1000)).toMatchObject({ result: 'failure', message: 'command "false" exited with code 3' });
  });

  it("fails with kubelet's message on a timeout", async () => {
    const runtime = runtimeAnswering(async () => result(-1, 'partial', '', true));
    expect(await execProbe(runtime, 'c1', ['sleep', '10'], 1000)).toMatchObject({ result: 'failure', message: 'command "sleep 10" timed out' });
  });

  it('caps the combined output at 10 KiB', async () => {
    const runtime = runtimeAnswering(async () => result(1, 'o'.repeat(8000), 'e'.repeat(8000)));
    const outcome = await execProbe(runtime, 'c1', ['x'], 1000);
    expect(outcome.message).toHaveLength(MAX_EXEC_OUTPUT_BYTES);
    expect(outcome.message?.endsWith('e')).toBe(true);
  });

  it('throws ProbeError when the runtime cannot run the command', async () => {
    const runtime = runtimeAnswering(async () => {
      throw new RuntimeUnavailableError('docker is down');
    });
    const err = await execProbe(runtime, 'c1234567890123456', ['true'], 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeError);
    expect((err as Error).message).toBe('exec ["true"] in container c12345678901 could not run: docker is down');
    await expect(execProbe(runtime, 'c1', [], 1000)).rejects.toThrow(/empty command/);
  });
});
