// One exec in a running container, with its output captured. Docker has no way to
// kill an exec'd process: on timeout the stream is dropped and the result says
// timedOut with exit code -1, while the process runs on in the container until it
// exits by itself (dockershim behaved the same way).
import type { ExecOptions, ExecResult } from '../../runtime.js';
import { CappedOutput, DEFAULT_MAX_OUTPUT_BYTES } from './capped-output.js';
import type { DockerCall } from '../docker-call.js';
import type { DockerRawApi } from './docker-raw-api.js';
import { FrameDecoder } from '../frame-decoder.js';

/** The exit code is recorded just before the stream closes; allow a moment for it to land. */
const EXIT_CODE_POLLS = 40;
const EXIT_CODE_POLL_MS = 25;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runExec(api: DockerRawApi, containerId: string, cmd: string[], options: ExecOptions, call: DockerCall): Promise<ExecResult> {
  const tty = options.tty === true;
  const stdin = options.stdin === undefined ? undefined : Buffer.from(options.stdin);
  const timeoutMs = options.timeoutMs ?? 0;
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : undefined;
  const limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const what = `exec ${JSON.stringify(cmd)} in container ${containerId.slice(0, 12)}`;

  const execId = await call(what, (signal) =>
    api.createExec(containerId, { Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: stdin !== undefined, Tty: tty }, signal),
  );
  const { socket, leftover } = await call(what, async (signal) => {
    const started = await api.startExec(execId, tty, signal);
    // The deadline passed while Docker was upgrading the connection: nobody will read it.
    if (signal.aborted) started.socket.destroy();
    return started;
  });

  const stdout = new CappedOutput(limit);
  const stderr = new CappedOutput(limit);
  const decoder = tty ? undefined : new FrameDecoder();
  let timedOut = false;
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      if (err && !timedOut) reject(err);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      if (!decoder) return stdout.add(chunk);
      for (const piece of decoder.push(chunk)) {
        if (piece.stream === 'stderr') stderr.add(piece.data);
        else if (piece.stream === 'stdout') stdout.add(piece.data);
      }
    };
    // Stream bytes that came in with the upgrade answer come first.
    if (leftover.length > 0) onData(leftover);
    socket.on('data', onData);
    // 'end' comes after the last 'data': the tail of the output is never lost.
    socket.once('end', () => finish());
    socket.once('close', () => finish());
    socket.on('error', (err) => finish(err));
    if (deadline !== undefined) {
      timer = setTimeout(
        () => {
          timedOut = true;
          socket.destroy();
          finish();
        },
        Math.max(0, deadline - Date.now()),
      );
    }
    if (stdin !== undefined) {
      // Half-close after the input: the process sees EOF on stdin, its output still flows.
      socket.end(stdin);
    }
    socket.resume();
  });
  socket.destroy();
  if (timedOut) return { exitCode: -1, stdout: stdout.toBuffer(), stderr: stderr.toBuffer(), timedOut: true };

  for (let i = 0; i < EXIT_CODE_POLLS; i++) {
    const info = await call(what, (signal) => api.inspectExec(execId, signal));
    if (!info.Running && typeof info.ExitCode === 'number') {
      return { exitCode: info.ExitCode, stdout: stdout.toBuffer(), stderr: stderr.toBuffer(), timedOut: false };
    }
    await sleep(EXIT_CODE_POLL_MS);
  }
  // The stream ended but Docker never recorded an exit: report it like a lost exec.
  return { exitCode: -1, stdout: stdout.toBuffer(), stderr: stderr.toBuffer(), timedOut: false };
}
