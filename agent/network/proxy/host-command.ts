// How the proxy runs the kernel tools (iptables-restore, nft, ip, conntrack, ipvsadm).
// One seam so the appliers can be pointed at a network namespace (integration tests
// program a private netns, never the host's rules other processes depend on) or at a
// fake in unit tests.
import { spawn } from 'node:child_process';

export interface CommandResult {
  /** Exit code; 127 when the binary could not be started, -1 when killed by a signal or timeout. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Written to the tool's stdin, then stdin is closed. */
  input?: string;
  /**
   * Kill the tool after this long (default 60 s). 0 = never: for writing or reading a
   * whole ruleset, whose time grows with the cluster (iptables-nft takes minutes for
   * 10,000 Services) and which must not be killed and retried forever.
   */
  timeoutMs?: number;
  /** Do not keep what the tool prints on stdout (the result's stdout is ''). */
  discardStdout?: boolean;
}

export interface CommandRunner {
  run(command: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
}

/** A kernel tool that exited non-zero; the message carries the command line and its stderr. */
export class HostCommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly result: CommandResult,
  ) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(0, 6).join('; ');
    super(`${[command, ...args].join(' ')} failed (exit ${result.code})${detail ? `: ${detail}` : ''}`);
    this.name = 'HostCommandError';
  }
}

const DEFAULT_TIMEOUT_MS = 60_000;

export interface HostCommandRunnerOptions {
  /**
   * Run every tool inside this named network namespace (`nsenter --net=/run/netns/<netns>`:
   * only the network namespace matters to these tools, and `ip netns exec` also builds a
   * mount namespace per call, ~10 ms a run).
   */
  netns?: string;
}

/** Runs the tools as child processes, in C locale so their messages can be matched. */
export class HostCommandRunner implements CommandRunner {
  constructor(private readonly options: HostCommandRunnerOptions = {}) {
    if (options.netns !== undefined && !/^[\w.-]+$/.test(options.netns))
      throw new RangeError(`netns name ${JSON.stringify(options.netns)}: only letters, digits, '_', '.' and '-'`);
  }

  run(command: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const netns = this.options.netns;
    const file = netns ? 'nsenter' : command;
    const argv = netns ? [`--net=/run/netns/${netns}`, '--', command, ...args] : [...args];
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve) => {
      const child = spawn(file, argv, {
        env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
        stdio: [options.input === undefined ? 'ignore' : 'pipe', options.discardStdout ? 'ignore' : 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      const finish = (result: CommandResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              child.kill('SIGKILL');
              finish({ code: -1, stdout: Buffer.concat(out).toString(), stderr: `${Buffer.concat(err).toString()}\ntimed out after ${timeoutMs} ms` });
            }, timeoutMs)
          : undefined;
      child.stdout?.on('data', (b: Buffer) => out.push(b));
      child.stderr?.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e: NodeJS.ErrnoException) => {
        finish({ code: 127, stdout: '', stderr: `${file}: ${e.code === 'ENOENT' ? 'command not found' : e.message}` });
      });
      child.on('close', (code) => {
        finish({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      if (options.input !== undefined && child.stdin) {
        // EPIPE when the tool exits before reading everything: its exit code tells why.
        child.stdin.on('error', () => {});
        child.stdin.end(options.input);
      }
    });
  }
}

/** Runs a tool and throws HostCommandError unless it exits 0. */
export async function runChecked(runner: CommandRunner, command: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult> {
  const result = await runner.run(command, args, options);
  if (result.code !== 0) throw new HostCommandError(command, args, result);
  return result;
}

export const hostCommands: CommandRunner = new HostCommandRunner();

/** For CommandOptions.timeoutMs: let a whole-ruleset tool run as long as it needs. */
export const NO_TIMEOUT = 0;
