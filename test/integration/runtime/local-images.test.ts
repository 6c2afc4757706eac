// The images nodelet builds from host binaries: both run, and the pause image stops on
// SIGTERM by itself (exit 0, not 137), with catatonit and with the shell fallback.
import { afterAll, describe, expect, it } from 'vitest';
import { buildPauseImage, busyboxImageTag, pauseImageTag } from '../../../agent/runtime/docker/local-images.js';
import { TEST_RUN_LABEL, docker, removeAllWithLabel, runId, testRuntime } from '../../support/docker.js';

const FALLBACK_TAG = `nodelet-test/pause-fallback:${runId}`;

async function runAndStop(image: string, cmd?: string[]): Promise<{ exitCode: number; output: string }> {
  const container = await docker.createContainer({ Image: image, Cmd: cmd, Labels: { [TEST_RUN_LABEL]: runId }, HostConfig: { NetworkMode: 'none' } });
  await container.start();
  await container.stop({ t: 10 }).catch(() => undefined);
  const info = await container.inspect();
  const output = (await container.logs({ stdout: true, stderr: true })).toString('latin1');
  return { exitCode: info.State.ExitCode, output };
}

afterAll(async () => {
  await removeAllWithLabel(TEST_RUN_LABEL, runId);
  await docker
    .getImage(FALLBACK_TAG)
    .remove()
    .catch(() => undefined);
});

describe('local images', () => {
  it('builds both images when missing and reuses them after', async () => {
    const runtime = testRuntime();
    await runtime.ensureLocalImages();
    await runtime.ensureLocalImages(); // present now: nothing to do
    expect((await runtime.imageStatus(pauseImageTag()))?.id).toMatch(/^sha256:/);
    expect((await runtime.imageStatus(busyboxImageTag()))?.id).toMatch(/^sha256:/);
  });

  it('has a pause image that exits 0 at once on SIGTERM', async () => {
    expect((await runAndStop(pauseImageTag())).exitCode).toBe(0);
  });

  it('falls back to a busybox shell pause when catatonit is missing', async () => {
    await buildPauseImage(docker, FALLBACK_TAG, { catatonit: '/nonexistent/catatonit' });
    const config = (await docker.getImage(FALLBACK_TAG).inspect()).Config;
    expect(config.Entrypoint?.[0]).toBe('/bin/sh');
    expect((await runAndStop(FALLBACK_TAG)).exitCode).toBe(0);
  });

  it('has a busybox image with applets, users, a sticky /tmp and PATH', async () => {
    const { output, exitCode } = await runAndStop(busyboxImageTag(), [
      'sh',
      '-c',
      'id nobody; stat -c "%a" /tmp; test -d /var/www && echo www; echo "$PATH"; which wget httpd nslookup',
    ]);
    expect(exitCode).toBe(0);
    expect(output).toContain('uid=65534(nobody)');
    expect(output).toContain('1777');
    expect(output).toContain('www');
    expect(output).toContain('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(output).toContain('/bin/wget');
  });
});
