// A pull through Docker, followed to the end of its progress stream. Docker reports
// most pull failures inside a 200 response ({"error": …}), so the stream must be
// read through before success is known. A pull with no progress for a while is
// cancelled, as kubelet's image pull progress deadline does.
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { ImagePullError } from '../errors.js';
import { imageName, type ImageReference } from '../image-reference.js';
import type { DockerCall } from './docker-call.js';
import { toRuntimeError } from './docker-errors.js';
import { jsonMessages, progressError } from './json-stream.js';

export interface PullOptions {
  ref: string;
  parsed: ImageReference;
  /** Cancels the pull. */
  signal?: AbortSignal;
  /** No progress message for this long cancels the pull. */
  progressDeadlineMs: number;
  endpoint: string;
}

/** Resolves when Docker finished the pull; throws ImagePullError with Docker's message otherwise. */
export async function pullThroughDocker(docker: Docker, call: DockerCall, options: PullOptions): Promise<void> {
  const { ref, parsed, signal } = options;
  const what = `pull image "${ref}"`;
  const stalled = new AbortController();
  const cancel = signal ? AbortSignal.any([signal, stalled.signal]) : stalled.signal;
  const progress = (await call(
    what,
    // `tag` carries a digest too; an empty tag would make Docker pull every tag of the repository.
    (abortSignal) => docker.createImage({ fromImage: imageName(parsed), tag: parsed.digest ?? parsed.tag ?? 'latest', abortSignal }),
    { signal: cancel, failure: ImagePullError },
  )) as Readable;

  let stallTimer: NodeJS.Timeout | undefined;
  const armStallTimer = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => stalled.abort(), options.progressDeadlineMs);
  };
  let failure: string | undefined;
  try {
    armStallTimer();
    for await (const message of jsonMessages(progress)) {
      armStallTimer();
      failure ??= progressError(message);
    }
  } catch (err) {
    if (signal?.aborted) throw new ImagePullError(`${what}: cancelled`, { cause: err });
    if (stalled.signal.aborted) {
      throw new ImagePullError(`${what}: no progress from Docker in ${Math.round(options.progressDeadlineMs / 1000)} s`, { cause: err });
    }
    throw toRuntimeError(err, what, options.endpoint, ImagePullError);
  } finally {
    clearTimeout(stallTimer);
    progress.destroy();
  }
  if (failure !== undefined) throw new ImagePullError(`${what}: ${failure}`);
}
