import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../../agent/runtime/create-runtime.js';
import { socketPathOf } from '../../../agent/runtime/runtime-endpoint.js';
import { DockerRuntime } from '../../../agent/runtime/docker/docker-runtime.js';
import { InvalidImageNameError, RuntimeUnavailableError } from '../../../agent/runtime/errors.js';

describe('socketPathOf', () => {
  it('reads unix:// URLs and plain paths, and refuses anything else', () => {
    expect(socketPathOf('unix:///var/run/docker.sock')).toBe('/var/run/docker.sock');
    expect(socketPathOf('/run/docker.sock')).toBe('/run/docker.sock');
    expect(() => socketPathOf('tcp://127.0.0.1:2375')).toThrow(/runtime endpoint "tcp:\/\/127.0.0.1:2375"/);
  });
});

describe('a runtime whose Docker socket is missing', () => {
  const runtime = createRuntime({ endpoint: 'unix:///nonexistent/nodelet-test/docker.sock', requestTimeoutMs: 2_000 });

  it('is a DockerRuntime with the local-image extras', () => {
    expect(runtime).toBeInstanceOf(DockerRuntime);
    expect(runtime.isLocalBuildableImage('nodelet/pause:0.1.0')).toBe(true);
    expect(runtime.isLocalBuildableImage('docker.io/nodelet/busybox:0.1.0')).toBe(true);
    expect(runtime.isLocalBuildableImage('busybox')).toBe(false);
    expect(runtime.isLocalBuildableImage('Not A Ref')).toBe(false);
  });

  it('reports RuntimeUnavailableError naming the socket, for requests and for streams', async () => {
    await expect(runtime.version()).rejects.toThrow(RuntimeUnavailableError);
    await expect(runtime.listContainers()).rejects.toThrow(/unix:\/\/\/nonexistent\/nodelet-test\/docker.sock/);
    await expect(runtime.imageStatus('busybox')).rejects.toThrow(RuntimeUnavailableError);
    const events = runtime.events(new AbortController().signal)[Symbol.asyncIterator]();
    await expect(events.next()).rejects.toThrow(RuntimeUnavailableError);
  });

  it('refuses an invalid image reference before asking Docker', async () => {
    await expect(runtime.pullImage('Bad Image')).rejects.toThrow(InvalidImageNameError);
    await expect(runtime.imageStatus('lower/Upper')).rejects.toThrow(/invalid image reference "lower\/Upper"/);
  });

  it('treats stop and remove of what cannot be inspected as an error, not as done', async () => {
    await expect(runtime.stopContainer('abc', 1)).rejects.toThrow(RuntimeUnavailableError);
    await expect(runtime.removePodSandbox('abc')).rejects.toThrow(RuntimeUnavailableError);
  });
});
