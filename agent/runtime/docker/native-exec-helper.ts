// The agent's side of the native exec helper (native/nsexec-helper.c): starts it on
// first use, writes each request as one binary frame on its stdin and matches the
// reply frames on its stdout to the waiting calls. A helper that dies fails what was
// waiting and is started again on the next call. The pipes keep the agent's event
// loop alive only while a reply is awaited.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExecResult } from '../runtime.js';
import { ReplyWaiters, type ReplyWaiter } from './reply-waiters.js';

/**
 * Where `npm run build` puts the helper: dist/native/nsexec-helper, beside dist/agent
 * when this module runs from dist, or below the checkout when it runs from source (tests).
 */
export const NATIVE_EXEC_HELPER_PATH: string = [
  new URL('../../../native/nsexec-helper', import.meta.url),
  new URL('../../../dist/native/nsexec-helper', import.meta.url),
].map((url) => fileURLToPath(url)).find((path: string) => isExecutableFile(path)) ?? fileURLToPath(new URL('../../../native/nsexec-helper', import.meta.url));
/** How long past the command's own deadline a reply may take before the helper counts as stuck. */
const REPLY_GRACE_MS = 10_000;

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

/** One command in a container: whose namespaces, and the confinement runc gave its processes. */
export interface NativeExecRequest {
  /** The container's main process, and its start time (field 22 of /proc/<pid>/stat). */
  pid: number;
  startTime: number;
  uid: number;
  gid: number;
  groups: number[];
  /** The capability bounding set (what a root command gets on exec), as a bit mask. */
  capBounding: bigint;
  noNewPrivs: boolean;
  /** Host paths of the container's cgroup.procs files, one per hierarchy. */
  cgroupProcs: string[];
  /** Inside the container. */
  workingDir: string;
  argv: string[];
  env: string[];
  /** The command's process group is killed after this long; 0 = never. */
  timeoutMs: number;
  maxOutputBytes: number;
}

/** The helper could not set the command up; `targetGone` when the main process is no longer the one named. */
export class NativeExecError extends Error {
  constructor(message: string, readonly errno: number, readonly targetGone: boolean) {
    super(message);
    this.name = 'NativeExecError';
  }
}

const STATUS_EXITED = 0;
const STATUS_TARGET_GONE = 2;
const FLAG_NO_NEW_PRIVS = 1;

/** One request frame: a u32 length, then the fields in the order nsexec-helper.c reads them. */
export function encodeNativeExecRequest(id: number, r: NativeExecRequest): Buffer {
  const strings = (list: readonly string[]) => {
    for (const s of list) if (s.includes('\0')) throw new Error(`a NUL byte in ${JSON.stringify(s.slice(0, 40))}`);
    const body = Buffer.from(list.map((s) => `${s}\0`).join(''), 'utf8');
    const head = Buffer.alloc(4);
    head.writeUInt32LE(list.length);
    return [head, body];
  };
  const fixed = Buffer.alloc(4 * 4 + 8 + 4 * 2 + 8 + 4 + 4 + 4 * r.groups.length);
  let o = 0;
  o = fixed.writeUInt32LE(id >>> 0, o);
  o = fixed.writeUInt32LE(Math.max(0, Math.min(r.timeoutMs, 0xffffffff)), o);
  o = fixed.writeUInt32LE(Math.max(0, Math.min(r.maxOutputBytes, 0xffffffff)), o);
  o = fixed.writeInt32LE(r.pid, o);
  o = fixed.writeBigUInt64LE(BigInt(r.startTime), o);
  o = fixed.writeUInt32LE(r.uid, o);
  o = fixed.writeUInt32LE(r.gid, o);
  o = fixed.writeBigUInt64LE(r.capBounding, o);
  o = fixed.writeUInt32LE(r.noNewPrivs ? FLAG_NO_NEW_PRIVS : 0, o);
  o = fixed.writeUInt32LE(r.groups.length, o);
  for (const g of r.groups) o = fixed.writeUInt32LE(g, o);
  const parts = [fixed, ...strings(r.cgroupProcs), ...strings([r.workingDir]), ...strings(r.argv), ...strings(r.env)];
  const length = parts.reduce((n, p) => n + p.length, 0);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(length);
  return Buffer.concat([head, ...parts], 4 + length);
}

export type NativeExecReply =
  | { id: number; result: ExecResult }
  | { id: number; error: NativeExecError };

/** Decodes the complete reply frames at the start of `data`; `rest` is what belongs to the next. */
export function decodeNativeExecReplies(data: Buffer): { replies: NativeExecReply[]; rest: Buffer } {
  const replies: NativeExecReply[] = [];
  let at = 0;
  while (data.length - at >= 4) {
    const length = data.readUInt32LE(at);
    if (data.length - at - 4 < length) break;
    let o = at + 4;
    const id = data.readUInt32LE(o);
    const status = data.readUInt32LE(o + 4);
    const code = data.readInt32LE(o + 8);
    const timedOut = data[o + 12] === 1;
    o += 13;
    const bytes = () => {
      const n = data.readUInt32LE(o);
      const b = Buffer.from(data.subarray(o + 4, o + 4 + n));
      o += 4 + n;
      return b;
    };
    const stdout = bytes();
    const stderr = bytes();
    const message = bytes().toString('utf8');
    replies.push(status === STATUS_EXITED
      ? { id, result: { exitCode: code, stdout, stderr, timedOut } }
      : { id, error: new NativeExecError(message, code, status === STATUS_TARGET_GONE) });
    at += 4 + length;
  }
  return { replies, rest: at === 0 ? data : data.subarray(at) };
}


export class NativeExecHelper {
  private child?: ChildProcess;
  private readonly waiters = new ReplyWaiters(() => this.updateRef());
  private nextId = 1;
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly path = NATIVE_EXEC_HELPER_PATH) {}

  /** The helper's pid while it runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  run(request: NativeExecRequest): Promise<ExecResult> {
    const frame = encodeNativeExecRequest(this.nextId, request);
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const child = this.started();
    return new Promise<ExecResult>((resolve, reject) => {
      const waiter: ReplyWaiter = { resolve, reject };
      if (request.timeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          this.waiters.settle(id)?.reject(new NativeExecError(`the exec helper gave no answer ${REPLY_GRACE_MS} ms past the command's ${request.timeoutMs} ms deadline`, 0, false));
        }, request.timeoutMs + REPLY_GRACE_MS);
      }
      this.waiters.add(id, waiter);
      child.stdin!.write(frame);
    });
  }

  /** Stops the helper; what it was running is killed with it (it kills every command when its stdin closes). */
  stop(): void {
    const child = this.child;
    this.child = undefined;
    child?.stdin?.end();
    this.waiters.failAll(new NativeExecError('the exec helper was stopped', 0, false));
  }

  private started(): ChildProcess {
    if (this.child) return this.child;
    // Its own environment is nobody's business: each command gets its own.
    const child = spawn(this.path, [], { env: {}, stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    this.pending = Buffer.alloc(0);
    child.unref();
    child.stdout!.on('data', (chunk: Buffer) => this.received(chunk));
    child.stdin!.on('error', () => undefined); // a dead helper is reported by 'exit'
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.waiters.failAll(new NativeExecError(`the exec helper ${why}`, 0, false));
    };
    child.once('error', (err) => gone(`failed: ${err.message}`));
    child.once('exit', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
    this.updateRef();
    return child;
  }

  private received(chunk: Buffer): void {
    const data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
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
