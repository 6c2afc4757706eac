// The agent's side of the exec helper (see exec-helper-program.ts): starts the
// helper on first use, matches its replies to requests, and starts a new one when
// it dies. The helper never keeps the agent alive: its process and channel are
// unreferenced while nothing waits on them.
import { spawn, type ChildProcess } from 'node:child_process';
import type { ExecResult } from '../../runtime.js';
import { ReplyWaiters, type ReplyWaiter } from './reply-waiters.js';
import { execHelperSource, type HelperReply, type HelperRequest } from './exec-helper-program.js';

/** A small heap keeps the helper's forks cheap; it only ever holds a few outputs. */
const HELPER_NODE_FLAGS = ['--max-old-space-size=64', '--max-semi-space-size=1'];
/** How long past the command's own deadline a reply may take before the helper counts as stuck. */
const REPLY_GRACE_MS = 10_000;

/** The helper could not run the command; `syscall` ("spawn <file>") is set when the command could not be started. */
export class ExecHelperError extends Error {
  readonly code?: string;
  readonly syscall?: string;
  constructor(message: string, details: { code?: string; syscall?: string } = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExecHelperError';
    if (details.code !== undefined) this.code = details.code;
    if (details.syscall !== undefined) this.syscall = details.syscall;
  }
}

export interface HelperCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** The command is killed (its process group) after this long; 0 = never. */
  timeoutMs: number;
  maxOutputBytes: number;
}


function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class ExecHelper {
  private child?: ChildProcess;
  private readonly waiters = new ReplyWaiters(() => this.updateRef());
  private nextId = 0;

  constructor(private readonly nodePath = process.execPath) {}

  /** The helper's pid while it runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  run(command: HelperCommand): Promise<ExecResult> {
    const child = this.started();
    const id = this.nextId++;
    const request: HelperRequest = { id, ...command };
    return new Promise<ExecResult>((resolve, reject) => {
      const waiter: ReplyWaiter = { resolve, reject };
      if (command.timeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          this.waiters.settle(id)?.reject(new ExecHelperError(`the exec helper gave no answer ${REPLY_GRACE_MS} ms past the command's ${command.timeoutMs} ms deadline`));
        }, command.timeoutMs + REPLY_GRACE_MS);
      }
      this.waiters.add(id, waiter);
      child.send(request, (err) => {
        if (err) this.waiters.settle(id)?.reject(new ExecHelperError(`cannot reach the exec helper: ${err.message}`, {}, { cause: err }));
      });
    });
  }

  /** Stops the helper; what it was running is killed with it. */
  stop(): void {
    const child = this.child;
    this.child = undefined;
    if (child?.connected) child.disconnect();
    this.waiters.failAll(new ExecHelperError('the exec helper was stopped'));
  }

  private started(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(this.nodePath, [...HELPER_NODE_FLAGS, '-e', execHelperSource()], {
      // Its own environment is nobody's business: each command gets its own.
      env: {},
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.child = child;
    child.unref();
    child.on('message', (reply: HelperReply) => this.answer(reply));
    const gone = (why: string, details: { code?: string; syscall?: string } = {}) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.waiters.failAll(new ExecHelperError(`the exec helper ${why}`, details));
    };
    child.once('error', (err: NodeJS.ErrnoException) => gone(`failed: ${err.message}`, {
      ...(err.code ? { code: err.code } : {}), ...(err.syscall ? { syscall: err.syscall } : {}),
    }));
    child.once('exit', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
    return child;
  }

  private answer(reply: HelperReply): void {
    const waiter = this.waiters.settle(reply.id);
    if (!waiter) return;
    if ('error' in reply) {
      waiter.reject(new ExecHelperError(reply.error.message, reply.error));
      return;
    }
    waiter.resolve({ exitCode: reply.exitCode, stdout: toBuffer(reply.stdout), stderr: toBuffer(reply.stderr), timedOut: reply.timedOut });
  }



  /** The channel keeps the agent's event loop alive only while a reply is awaited. */
  private updateRef(): void {
    const channel = this.child?.channel;
    if (!channel) return;
    if (this.waiters.size > 0) channel.ref();
    else channel.unref();
  }
}
