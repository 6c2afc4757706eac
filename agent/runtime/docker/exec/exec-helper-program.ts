// The exec helper: a small Node process, started once by the agent, that runs
// commands for it and sends back their exit code and output. The agent's heap is
// large and busy; each fork() of it copies its page tables and leaves every page
// copy-on-write until the child execs, which at a hundred exec probes a second
// costs the agent more than the probes themselves and stalls its event loop. The
// helper's heap is small, so its forks are cheap, and the agent only exchanges
// messages with it.
//
// execHelperProgram is the helper's whole program. It is sent to the new process
// as its source text (see execHelperSource), so it must use nothing from outside
// its own body: no imports, no module-level values; only globals and built-in
// modules through process.getBuiltinModule.

export interface HelperRequest {
  id: number;
  file: string;
  args: string[];
  env: Record<string, string>;
  /** 0 = no limit. */
  timeoutMs: number;
  maxOutputBytes: number;
}

export type HelperReply =
  | { id: number; exitCode: number; stdout: Uint8Array; stderr: Uint8Array; timedOut: boolean }
  /** The command could not be started (spawn failed): `syscall` is "spawn <file>". */
  | { id: number; error: { message: string; code?: string; syscall?: string } };

/** Runs in the helper process: one request per message, one reply per request. */
export function execHelperProgram(): void {
  const { spawn } = process.getBuiltinModule('node:child_process');
  const { constants } = process.getBuiltinModule('node:os');
  /** After the command exits, how long a background child may keep its output open before it is cut. */
  const OUTPUT_DRAIN_MS = 1_000;
  /** Process groups still running, killed if the agent goes away. */
  const groups = new Set<number>();

  const killGroup = (pid: number | undefined) => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone already
    }
  };

  const capture = (limit: number) => {
    const chunks: Buffer[] = [];
    let size = 0;
    return {
      add(data: Buffer) {
        if (size >= limit) return;
        const take = data.length <= limit - size ? data : data.subarray(0, limit - size);
        chunks.push(take);
        size += take.length;
      },
      bytes: () => Buffer.concat(chunks, size),
    };
  };

  const run = (request: HelperRequest) => {
    const reply = (message: HelperReply) => process.send?.(message);
    const child = (() => {
      try {
        // detached: a session and process group of its own, so one kill reaches the
        // command and everything it started, in whatever pid namespace.
        return spawn(request.file, request.args, { env: request.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      } catch (err) {
        // Refused before starting (an argument holding a NUL byte): as good as not found.
        const e = err as NodeJS.ErrnoException;
        reply({ id: request.id, error: { message: e.message, ...(e.code ? { code: e.code } : {}), syscall: `spawn ${request.file}` } });
        return undefined;
      }
    })();
    if (!child) return;
    const pid = child.pid;
    if (pid !== undefined) groups.add(pid);
    const stdout = capture(request.maxOutputBytes);
    const stderr = capture(request.maxOutputBytes);
    child.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));

    let settled = false;
    let timedOut = false;
    let exitCode: number | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(drainTimer);
      if (pid !== undefined) groups.delete(pid);
      child.stdout.destroy();
      child.stderr.destroy();
      reply({ id: request.id, exitCode: timedOut ? -1 : exitCode ?? -1, stdout: stdout.bytes(), stderr: stderr.bytes(), timedOut });
    };
    const deadline = request.timeoutMs > 0 ? setTimeout(() => {
      timedOut = true;
      killGroup(pid);
      // A child that left the group may hold the pipes: do not wait for them.
      if (exitCode !== undefined) finish();
    }, request.timeoutMs) : undefined;

    child.once('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (pid !== undefined) groups.delete(pid);
      reply({ id: request.id, error: { message: err.message, ...(err.code ? { code: err.code } : {}), ...(err.syscall ? { syscall: err.syscall } : {}) } });
    });
    child.once('exit', (code, signal) => {
      // A shell's (and Docker's) exit code for a process ended by a signal: 128 + its number.
      const number = signal ? constants.signals[signal] : undefined;
      exitCode = code ?? (number === undefined ? -1 : 128 + number);
      if (timedOut) return finish();
      // The output is complete once both pipes close; a background child still holding them gets a moment.
      drainTimer = setTimeout(finish, OUTPUT_DRAIN_MS);
    });
    child.once('close', finish);
  };

  process.on('message', (message) => run(message as HelperRequest));
  // The agent went away: nothing will read the results, and nothing must outlive it.
  process.on('disconnect', () => {
    for (const pid of groups) killGroup(pid);
    process.exit(0);
  });
}

/** The helper's source, for `node -e`. */
export function execHelperSource(): string {
  return `(${execHelperProgram.toString()})();\n`;
}
