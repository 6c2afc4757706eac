// The native exec helper's wire protocol (native/nsexec-helper.c reads and writes
// the same): little-endian binary frames, each a u32 length and that many bytes.
//
// Both sides check the protocol version, since the helper is built apart from the
// agent (a stale dist/native, a checkout built with another agent): the helper's
// first frame is a hello naming its version, which the agent checks before it sends
// anything; every request starts with the agent's version, which the helper checks,
// refusing a request of another version with a PROTOCOL_MISMATCH reply. What a
// mismatch must still be read by, never changes: the hello, a request's version and
// id, a reply's length, id, status and code.
import type { ExecResult } from '../../runtime.js';

/** The protocol this agent speaks; nsexec-helper.c's NSEXEC_PROTOCOL_VERSION must match. */
export const NATIVE_EXEC_PROTOCOL_VERSION = 1;
/** The hello's payload: these four bytes, then the helper's version (a u8). */
const HELLO_MAGIC = Buffer.from('NSXH', 'latin1');
const HELLO_LENGTH = HELLO_MAGIC.length + 1;

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
  constructor(
    message: string,
    readonly errno: number,
    readonly targetGone: boolean,
  ) {
    super(message);
    this.name = 'NativeExecError';
  }
}

/**
 * The helper speaks another protocol than the agent (undefined: it named none, as
 * builds from before versions did): nothing it would run can be trusted to be what
 * the agent asked for, so the agent runs execs through Docker instead.
 */
export class NativeExecProtocolError extends NativeExecError {
  constructor(
    readonly helperVersion: number | undefined,
    readonly agentVersion = NATIVE_EXEC_PROTOCOL_VERSION,
  ) {
    super(
      helperVersion === undefined
        ? `exec helper named no protocol version (a build from before versions?), agent expects v${agentVersion}`
        : `exec helper protocol v${helperVersion}, agent expects v${agentVersion}`,
      0,
      false,
    );
    this.name = 'NativeExecProtocolError';
  }
}

const STATUS_EXITED = 0;
const STATUS_TARGET_GONE = 2;
const STATUS_PROTOCOL_MISMATCH = 3;
const FLAG_NO_NEW_PRIVS = 1;

/** The part of a request that is the same for every command in one container. */
export type NativeExecTemplate = Omit<NativeExecRequest, 'argv' | 'timeoutMs' | 'maxOutputBytes'>;

/** What changes from one command to the next. */
export type NativeExecCommand = Pick<NativeExecRequest, 'argv' | 'timeoutMs' | 'maxOutputBytes'>;

/** A u32 count, then NUL-terminated strings. */
function encodeStrings(list: readonly string[]): Buffer {
  for (const s of list) if (s.includes('\0')) throw new Error(`a NUL byte in ${JSON.stringify(s.slice(0, 40))}`);
  const body = Buffer.from(list.map((s) => `${s}\0`).join(''), 'utf8');
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32LE(list.length, 0);
  body.copy(out, 4);
  return out;
}

/** The container's part of a frame, in the order nsexec-helper.c reads it (encoded once per container). */
export function encodeNativeExecTemplate(t: NativeExecTemplate): Buffer {
  const fixed = Buffer.alloc(4 + 8 + 4 * 2 + 8 + 4 + 4 + 4 * t.groups.length);
  let o = 0;
  o = fixed.writeInt32LE(t.pid, o);
  o = fixed.writeBigUInt64LE(BigInt(t.startTime), o);
  o = fixed.writeUInt32LE(t.uid, o);
  o = fixed.writeUInt32LE(t.gid, o);
  o = fixed.writeBigUInt64LE(t.capBounding, o);
  o = fixed.writeUInt32LE(t.noNewPrivs ? FLAG_NO_NEW_PRIVS : 0, o);
  o = fixed.writeUInt32LE(t.groups.length, o);
  for (const g of t.groups) o = fixed.writeUInt32LE(g, o);
  return Buffer.concat([fixed, encodeStrings(t.cgroupProcs), encodeStrings([t.workingDir]), encodeStrings(t.env)]);
}

/** One request frame: a u32 length, the protocol version (u8), the id, deadline and output cap, the container's part, then argv. */
export function encodeNativeExecFrame(id: number, template: Buffer, command: NativeExecCommand, version = NATIVE_EXEC_PROTOCOL_VERSION): Buffer {
  const argv = encodeStrings(command.argv);
  const length = 13 + template.length + argv.length;
  const frame = Buffer.allocUnsafe(4 + length);
  frame.writeUInt32LE(length, 0);
  frame.writeUInt8(version, 4);
  frame.writeUInt32LE(id >>> 0, 5);
  frame.writeUInt32LE(Math.max(0, Math.min(command.timeoutMs, 0xffffffff)), 9);
  frame.writeUInt32LE(Math.max(0, Math.min(command.maxOutputBytes, 0xffffffff)), 13);
  template.copy(frame, 17);
  argv.copy(frame, 17 + template.length);
  return frame;
}

/** A whole request's frame in one call (the helper itself reuses the container's part). */
export function encodeNativeExecRequest(id: number, r: NativeExecRequest): Buffer {
  return encodeNativeExecFrame(id, encodeNativeExecTemplate(r), r);
}

export type NativeExecReply = { id: number; result: ExecResult } | { id: number; error: NativeExecError };

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
    if (status === STATUS_EXITED) replies.push({ id, result: { exitCode: code, stdout, stderr, timedOut } });
    // A helper refusing the request's version puts its own in the code.
    else if (status === STATUS_PROTOCOL_MISMATCH) replies.push({ id, error: new NativeExecProtocolError(code) });
    else replies.push({ id, error: new NativeExecError(message, code, status === STATUS_TARGET_GONE) });
    at += 4 + length;
  }
  return { replies, rest: at === 0 ? data : data.subarray(at) };
}

/**
 * The helper's hello at the start of `data`: its protocol version, undefined when
 * the first frame is not a hello; `incomplete` until the whole frame is there.
 */
export function decodeNativeExecHello(data: Buffer): { incomplete: true } | { version: number | undefined; rest: Buffer } {
  if (data.length < 4) return { incomplete: true };
  const length = data.readUInt32LE(0);
  if (length !== HELLO_LENGTH) return { version: undefined, rest: data };
  if (data.length < 4 + HELLO_LENGTH) return { incomplete: true };
  if (!data.subarray(4, 4 + HELLO_MAGIC.length).equals(HELLO_MAGIC)) return { version: undefined, rest: data };
  return { version: data[4 + HELLO_MAGIC.length]!, rest: data.subarray(4 + HELLO_LENGTH) };
}

/** The hello frame of a helper speaking `version` (what nsexec-helper.c writes first; for tests). */
export function encodeNativeExecHello(version = NATIVE_EXEC_PROTOCOL_VERSION): Buffer {
  const frame = Buffer.alloc(4 + HELLO_LENGTH);
  frame.writeUInt32LE(HELLO_LENGTH, 0);
  HELLO_MAGIC.copy(frame, 4);
  frame.writeUInt8(version, 4 + HELLO_MAGIC.length);
  return frame;
}
