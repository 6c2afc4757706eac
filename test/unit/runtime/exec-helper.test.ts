// The exec helper runs host commands (no Docker needed): output, exit codes, the
// environment it is given, kills at the deadline, and a new helper after a crash.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecHelper, ExecHelperError, type HelperCommand } from '../../../agent/runtime/docker/exec/exec-helper.js';

const helper = new ExecHelper();
afterAll(() => helper.stop());

function sh(script: string, overrides: Partial<HelperCommand> = {}): HelperCommand {
  return { file: '/bin/sh', args: ['-c', script], env: { PATH: '/usr/bin:/bin' }, timeoutMs: 10_000, maxOutputBytes: 1024 * 1024, ...overrides };
}

/** Dead: gone from /proc, or a zombie nobody has reaped yet. */
function isDead(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return true;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

describe('ExecHelper', () => {
  it('returns the exit code and keeps stdout and stderr apart', async () => {
    const r = await helper.run(sh('echo out; echo err >&2; exit 3'));
    expect(r).toEqual({ exitCode: 3, stdout: Buffer.from('out\n'), stderr: Buffer.from('err\n'), timedOut: false });
  });

  it('gives the command exactly the environment it was handed', async () => {
    const r = await helper.run({ file: '/usr/bin/env', args: [], env: { A: '1', B: 'x=y' }, timeoutMs: 5_000, maxOutputBytes: 1024 });
    expect(r.stdout.toString().trim().split('\n').sort()).toEqual(['A=1', 'B=x=y']);
  });

  it('starts commands from its own process, never from the agent', async () => {
    const r = await helper.run(sh('echo $PPID'));
    const parent = Number(r.stdout.toString().trim());
    expect(parent).toBe(helper.pid);
    expect(parent).not.toBe(process.pid);
  });

  it('reports a command ended by a signal as 128 + the signal, and caps the output', async () => {
    expect((await helper.run(sh('kill -9 $$'))).exitCode).toBe(137);
    const capped = await helper.run(sh('seq 1 1000', { maxOutputBytes: 10 }));
    expect(capped.stdout.toString()).toBe('1\n2\n3\n4\n5\n');
  });

  it('kills the whole process group at the deadline', async () => {
    const r = await helper.run(sh('sleep 31 & echo $!; sleep 32', { timeoutMs: 300 }));
    expect(r).toMatchObject({ timedOut: true, exitCode: -1 });
    const background = Number(r.stdout.toString().trim());
    expect(background).toBeGreaterThan(0);
    let dead = false;
    for (let i = 0; i < 50 && !dead; i++) {
      dead = isDead(background);
      if (!dead) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(dead).toBe(true);
  });

  it('answers once the command exits even when a background child keeps its output open', async () => {
    // Without the short drain after the exit, this would run into its deadline.
    const r = await helper.run(sh('sleep 3 & echo done', { timeoutMs: 2_000 }));
    expect(r).toMatchObject({ exitCode: 0, timedOut: false });
    expect(r.stdout.toString()).toBe('done\n');
  });

  it('reports a command it cannot start with the spawn syscall, so callers can fall back', async () => {
    const err = await helper.run({ ...sh(''), file: '/nonexistent/nsenter' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecHelperError);
    expect((err as ExecHelperError).syscall).toBe('spawn /nonexistent/nsenter');
    expect((err as ExecHelperError).code).toBe('ENOENT');
  });

  it('fails what was running when the helper dies, and starts a new one for the next command', async () => {
    await helper.run(sh('true'));
    const first = helper.pid!;
    const pending = helper.run(sh('sleep 30'));
    process.kill(first, 'SIGKILL');
    await expect(pending).rejects.toThrow(/the exec helper exited \(SIGKILL\)/);
    const r = await helper.run(sh('echo $PPID'));
    expect(Number(r.stdout.toString().trim())).toBe(helper.pid);
    expect(helper.pid).not.toBe(first);
  });
});
