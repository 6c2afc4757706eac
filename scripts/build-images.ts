// Builds nodelet's local images (pause and busybox) from host binaries when they are
// missing, and prints their tags. Run by scripts/bootstrap.sh after `npm run build`.
import { createRuntime } from '../agent/runtime/create-runtime.js';
import { isRuntimeError } from '../agent/runtime/errors.js';
import { busyboxImageTag, pauseImageTag } from '../agent/runtime/docker/local-images.js';

async function main(): Promise<number> {
  const endpoint = process.env['NODELET_RUNTIME_ENDPOINT'];
  const runtime = createRuntime(endpoint ? { endpoint, requestTimeoutMs: 30_000 } : { requestTimeoutMs: 30_000 });
  try {
    await runtime.version();
    await runtime.ensureLocalImages();
  } catch (err) {
    const hint = isRuntimeError(err, 'RuntimeUnavailable') ? ' (start dockerd, or run scripts/bootstrap.sh as root)' : '';
    process.stderr.write(`build-images: ${(err as Error).message}${hint}\n`);
    return 1;
  }
  process.stdout.write(`${pauseImageTag()}\n${busyboxImageTag()}\n`);
  return 0;
}

process.exitCode = await main();
