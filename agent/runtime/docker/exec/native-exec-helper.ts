// The agent's side of the native exec helper (native/nsexec-helper.c): starts it on
// first use, writes each request as one binary frame on its stdin and matches the
// reply frames on its stdout to the waiting calls (the frames: native-exec-protocol.ts).
// Nothing is sent before the helper's hello has named the agent's protocol version;
// a helper of another version is stopped and refuses every later call with that.
// A helper that dies fails what was waiting and is started again on the next call.
// The pipes keep the agent's event loop alive only while a reply is awaited.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExecResult } from '../../runtime.js';
import {
  NATIVE_EXEC_PROTOCOL_VERSION,
  NativeExecError,
  NativeExecProtocolError,
  decodeNativeExecHello,
  decodeNativeExecReplies,
  encodeNativeExecFrame,
  encodeNativeExecTemplate,
  type NativeExecCommand,
  type NativeExecTemplate,
} from './native-exec-protocol.js';
import { ReplyWaiters, type ReplyWaiter } from './reply-waiters.js';

/**
 * Where `npm run build` puts the helper: dist/native/nsexec-helper, beside dist/agent
 * when this module runs from dist, or below the checkout when it runs from source (tests).
 */
export const NATIVE_EXEC_HELPER_PATH: string =
  [new URL('../../../../native/nsexec-helper', import.meta.url), new URL('../../../../dist/native/nsexec-helper', import.meta.url)]
    .map((url) => fileURLToPath(url))
    .find((path: string) => isExecutableFile(path)) ?? fileURLToPath(new URL('../../../../native/nsexec-helper', import.meta.url));
/** How long past the command's own deadline a reply may take before the helper counts as stuck. */
const REPLY_GRACE_MS = 10_000;
/** The helper says hello as its first act; one that has not after this long speaks no versioned protocol. */
const HELLO_TIMEOUT_MS = 10_000;

export function nativeExecHelperInstalled(path: string = NATIVE_EXEC_HELPER_PATH): boolean {
  return isExecutableFile(path);
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export class NativeExecHelper {
  private child?: ChildProcess;
  private readonly waiters = new ReplyWaiters(() => this.updateRef());
  private nextId = 1;
  private pending: Buffer = Buffer.alloc(0);
  private readonly templates = new WeakMap<NativeExecTemplate, Buffer>();
  /** Whether the running helper's hello named our protocol; requests wait in `queued` until it has. */
  private helloed = false;
  private queued: Buffer[] = [];
  private helloTimer?: NodeJS.Timeout;
  /** Set once the helper turned out to speak another protocol: every run fails with it. */
  private refused?: NativeExecProtocolError;

  constructor(
    private readonly path = NATIVE_EXEC_HELPER_PATH,
    private readonly helloTimeoutMs = HELLO_TIMEOUT_MS,
  ) {}

  /** The helper's pid while it runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Runs one command in the container the template describes (its bytes are encoded once per template). */
  run(template: NativeExecTemplate, command: NativeExecCommand): Promise<ExecResult> {
    if (this.refused) return Promise.reject(this.refused);
    let bytes = this.templates.get(template);
    if (!bytes) this.templates.set(template, (bytes = encodeNativeExecTemplate(template)));
    const id = this.nextId;
    const frame = encodeNativeExecFrame(id, bytes, command);
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const child = this.started();
    return new Promise<ExecResult>((resolve, reject) => {
      const waiter: ReplyWaiter = { resolve, reject };
      if (command.timeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          this.waiters
            .settle(id)
            ?.reject(new NativeExecError(`the exec helper gave no answer ${REPLY_GRACE_MS} ms past the command's ${command.timeoutMs} ms deadline`, 0, false));
        }, command.timeoutMs + REPLY_GRACE_MS);
      }
      this.waiters.add(id, waiter);
      if (this.helloed) child.stdin!.write(frame);
      else this.queued.push(frame);
    });
  }

  /** Stops the helper; what it was running is killed with it (it kills every command when its stdin closes). */
  stop(): void {
    this.end(new NativeExecError('the exec helper was stopped', 0, false));
  }

  private end(err: NativeExecError): void {
    const child = this.child;
    this.child = undefined;
    clearTimeout(this.helloTimer);
    this.queued = [];
    child?.stdin?.end();
    this.waiters.failAll(err);
  }

  /** The helper speaks another protocol: it is stopped, and this answer stands for every later run. */
  private refuse(err: NativeExecProtocolError): void {
    this.refused = err;
    this.end(err);
  }

  private started(): ChildProcess {
    if (this.child) return this.child;
    // Its own environment is nobody's business: each command gets its own.
    const child = spawn(this.path, [], { env: {}, stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    this.pending = Buffer.alloc(0);
    this.helloed = false;
    this.helloTimer = setTimeout(() => {
      if (this.child === child && !this.helloed) this.refuse(new NativeExecProtocolError(undefined));
    }, this.helloTimeoutMs);
    this.helloTimer.unref();
    child.unref();
    child.stdout!.on('data', (chunk: Buffer) => {
      // A helper already let go of (stopped, refused) may still be writing: not ours to read.
      if (this.child === child) this.received(chunk);
    });
    child.stdin!.on('error', () => undefined); // a dead helper is reported by 'exit'
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.end(new NativeExecError(`the exec helper ${why}`, 0, false));
    };
    child.once('error', (err) => gone(`failed: ${err.message}`));
    child.once('exit', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
    this.updateRef();
    return child;
  }

  private received(chunk: Buffer): void {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (!this.helloed) {
      const hello = decodeNativeExecHello(data);
      if ('incomplete' in hello) {
        this.pending = data;
        return;
      }
      if (hello.version !== NATIVE_EXEC_PROTOCOL_VERSION) {
        this.refuse(new NativeExecProtocolError(hello.version));
        return;
      }
      this.helloed = true;
      clearTimeout(this.helloTimer);
      for (const frame of this.queued) this.child?.stdin?.write(frame);
      this.queued = [];
      data = hello.rest;
    }
    const { replies, rest } = decodeNativeExecReplies(data);
    this.pending = rest;
    for (const reply of replies) {
      const waiter = this.waiters.settle(reply.id);
      if (!waiter) continue;
      if ('error' in reply) waiter.reject(reply.error);
      else waiter.resolve(reply.result);
    }
  }

  private updateRef(): void {
    const child = this.child;
    if (!child) return;
    const streams = [child.stdin, child.stdout] as Array<{ ref?: () => void; unref?: () => void } | null>;
    for (const s of streams) {
      if (this.waiters.size > 0) (s as { ref?: () => void } | null)?.ref?.();
      else (s as { unref?: () => void } | null)?.unref?.();
    }
  }
}
