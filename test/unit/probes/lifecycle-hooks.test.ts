import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Container, LifecycleHandler, Pod } from '../../../agent/api/types.js';
import type { EventRecorder, EventType } from '../../../agent/events/event-recorder.js';
import { silentLogger } from '../../../agent/log/logger.js';
import {
  LIFECYCLE_USER_AGENT,
  LifecycleHookRunner,
  MINIMUM_GRACE_SECONDS,
  formatPodForHook,
  remainingGraceSeconds,
} from '../../../agent/probes/lifecycle-hooks.js';
import { MAX_EXEC_OUTPUT_BYTES } from '../../../agent/probes/exec-handler.js';
import { NotFoundError } from '../../../agent/runtime/errors.js';
import type { ExecOptions, ExecResult, Runtime } from '../../../agent/runtime/runtime.js';
import { FakeClock } from '../../../agent/api/clock.js';

const flush = () => new Promise((r) => setImmediate(r));

class Events implements EventRecorder {
  readonly list: Array<{ type: EventType; reason: string; message: string }> = [];
  record(_pod: Pod, type: EventType, reason: string, message: string): void {
    this.list.push({ type, reason, message });
  }
}

type ExecCall = { id: string; cmd: string[]; options?: ExecOptions };
type FakeRuntime = Pick<Runtime, 'exec'> & { calls: ExecCall[] };

function fakeRuntime(answer: (call: ExecCall) => Promise<ExecResult>): FakeRuntime {
  const calls: ExecCall[] = [];
  return {
    calls,
    exec: (id, cmd, options) => {
      const call = { id, cmd, options };
      calls.push(call);
      return answer(call);
    },
  };
}

const execResult = (exitCode: number, stdout = '', stderr = '', timedOut = false): ExecResult => ({
  exitCode,
  stdout: Buffer.from(stdout),
  stderr: Buffer.from(stderr),
  timedOut,
});

function podWith(lifecycle: Container['lifecycle'], extra: Partial<Container> = {}, grace?: number): { pod: Pod; container: Container } {
  const container: Container = { name: 'app', image: 'busybox', lifecycle, ...extra };
  const pod: Pod = {
    metadata: { name: 'web', namespace: 'shop', uid: 'u-1' },
    spec: { containers: [container], ...(grace === undefined ? {} : { terminationGracePeriodSeconds: grace }) },
  };
  return { pod, container };
}

function setup(answer: (call: ExecCall) => Promise<ExecResult> = async () => execResult(0)) {
  const clock = new FakeClock(0);
  const events = new Events();
  const runtime = fakeRuntime(answer);
  const runner = new LifecycleHookRunner({ runtime, clock, logger: silentLogger, events });
  return { clock, events, runtime, runner };
}

const postStart = (handler: LifecycleHandler) => ({ postStart: handler });
const preStop = (handler: LifecycleHandler) => ({ preStop: handler });

describe('remainingGraceSeconds', () => {
  it('takes the whole seconds the hook used out of the grace period', () => {
    expect(remainingGraceSeconds(30, 0)).toBe(30);
    expect(remainingGraceSeconds(30, 999)).toBe(30);
    expect(remainingGraceSeconds(30, 4_999)).toBe(26);
    expect(remainingGraceSeconds(30, 5_000)).toBe(25);
  });

  it('always leaves at least 2 s for SIGTERM', () => {
    expect(remainingGraceSeconds(30, 28_000)).toBe(2);
    expect(remainingGraceSeconds(30, 29_500)).toBe(2);
    expect(remainingGraceSeconds(10, 60_000)).toBe(MINIMUM_GRACE_SECONDS);
    expect(remainingGraceSeconds(0, 0)).toBe(2);
    expect(remainingGraceSeconds(1, 0)).toBe(2);
  });
});

describe('formatPodForHook', () => {
  it("reads like kubelet's format.Pod", () => {
    expect(formatPodForHook(podWith(undefined).pod)).toBe('web_shop(u-1)');
  });
});

describe('LifecycleHookRunner.runPostStart with exec', () => {
  it('is ok without a postStart hook and runs nothing', async () => {
    const { runner, runtime, events } = setup();
    const { pod, container } = podWith(undefined);
    expect(await runner.runPostStart(pod, container, 'c1', '10.0.0.5')).toEqual({ ok: true });
    expect(runtime.calls).toEqual([]);
    expect(events.list).toEqual([]);
  });

  it("runs the command in the container, bounded by the pod's grace period", async () => {
    const { runner, runtime, events } = setup(async () => execResult(0, 'done\n'));
    const { pod, container } = podWith(postStart({ exec: { command: ['sh', '-c', 'touch /ready'] } }), {}, 45);
    expect(await runner.runPostStart(pod, container, 'c1', '10.0.0.5')).toEqual({ ok: true });
    expect(runtime.calls).toEqual([{ id: 'c1', cmd: ['sh', '-c', 'touch /ready'], options: { timeoutMs: 45_000, maxOutputBytes: MAX_EXEC_OUTPUT_BYTES } }]);
    expect(events.list).toEqual([]);
  });

  it('uses the default 30 s grace period as the bound when the pod sets none', async () => {
    const { runner, runtime } = setup();
    const { pod, container } = podWith(postStart({ exec: { command: ['true'] } }));
    await runner.runPostStart(pod, container, 'c1', '');
    expect(runtime.calls[0]?.options?.timeoutMs).toBe(30_000);
  });

  it("fails with kubelet's message and a FailedPostStartHook event that leaves the output out", async () => {
    const { runner, events } = setup(async () => execResult(2, 'starting\n', 'secret=hunter2: no such file\n'));
    const { pod, container } = podWith(postStart({ exec: { command: ['sh', '-c', 'exit 2'] } }));
    const result = await runner.runPostStart(pod, container, 'c1', '');
    expect(result).toEqual({
      ok: false,
      message:
        'Exec lifecycle hook ([sh -c exit 2]) for Container "app" in Pod "web_shop(u-1)" failed - error: ' +
        "command 'sh -c exit 2' exited with 2: secret=hunter2: no such file\n" +
        ', message: "starting\\nsecret=hunter2: no such file\\n"',
    });
    expect(events.list).toEqual([{ type: 'Warning', reason: 'FailedPostStartHook', message: 'PostStartHook failed' }]);
  });

  it('fails when the runtime kills the command at the bound', async () => {
    const { runner, events } = setup(async () => execResult(-1, 'half', '', true));
    const { pod, container } = podWith(postStart({ exec: { command: ['sleep', '600'] } }), {}, 5);
    const result = await runner.runPostStart(pod, container, 'c1', '');
    expect(result).toEqual({
      ok: false,
      message:
        'Exec lifecycle hook ([sleep 600]) for Container "app" in Pod "web_shop(u-1)" failed - error: command "sleep 600" timed out after 5s, message: "half"',
    });
    expect(events.list.map((e) => e.reason)).toEqual(['FailedPostStartHook']);
  });

  it('gives up on a hung exec once the grace period passes on the clock', async () => {
    const { runner, events, clock } = setup(() => new Promise<ExecResult>(() => {}));
    const { pod, container } = podWith(postStart({ exec: { command: ['hang'] } }), {}, 10);
    let result: unknown;
    void runner.runPostStart(pod, container, 'c1', '').then((r) => {
      result = r;
    });
    await flush();
    clock.advance(9_999);
    await flush();
    expect(result).toBeUndefined();
    clock.advance(1);
    await flush();
    expect(result).toEqual({
      ok: false,
      message:
        'Exec lifecycle hook ([hang]) for Container "app" in Pod "web_shop(u-1)" failed - error: ' +
        'did not complete within 10s (the pod\'s terminationGracePeriodSeconds bounds postStart), message: ""',
    });
    expect(events.list.map((e) => e.reason)).toEqual(['FailedPostStartHook']);
  });

  it('never bounds a hook below 2 s, even with a zero grace period', async () => {
    const { runner, runtime } = setup();
    const { pod, container } = podWith(postStart({ exec: { command: ['true'] } }), {}, 0);
    await runner.runPostStart(pod, container, 'c1', '');
    expect(runtime.calls[0]?.options?.timeoutMs).toBe(2_000);
  });

  it('fails when the runtime cannot run the command', async () => {
    const { runner } = setup(async () => {
      throw new NotFoundError('container c1 not found');
    });
    const { pod, container } = podWith(postStart({ exec: { command: ['true'] } }));
    const result = await runner.runPostStart(pod, container, 'c1', '');
    expect(result).toMatchObject({ ok: false, message: expect.stringContaining('failed - error: container c1 not found, message: ""') });
  });

  it('fails an empty command without calling the runtime', async () => {
    const { runner, runtime } = setup();
    const { pod, container } = podWith(postStart({ exec: { command: [] } }));
    expect(await runner.runPostStart(pod, container, 'c1', '')).toMatchObject({ ok: false, message: expect.stringContaining('exec command is empty') });
    expect(runtime.calls).toEqual([]);
  });
});

describe('LifecycleHookRunner.runPostStart with sleep and unsupported handlers', () => {
  it('sleeps for sleep.seconds on the clock', async () => {
    const { runner, clock } = setup();
    const { pod, container } = podWith(postStart({ sleep: { seconds: 5 } }));
    let result: unknown;
    void runner.runPostStart(pod, container, 'c1', '').then((r) => {
      result = r;
    });
    await flush();
    clock.advance(4_999);
    await flush();
    expect(result).toBeUndefined();
    clock.advance(1);
    await flush();
    expect(result).toEqual({ ok: true });
  });

  it('fails a tcpSocket hook, which kubelet cannot run', async () => {
    const { runner, events } = setup();
    const { pod, container } = podWith(postStart({ tcpSocket: { port: 80 } }));
    expect(await runner.runPostStart(pod, container, 'c1', '10.0.0.5')).toEqual({
      ok: false,
      message: 'Cannot run handler: invalid handler: tcpSocket (port 80) is not supported as a lifecycle handler',
    });
    expect(events.list.map((e) => e.reason)).toEqual(['FailedPostStartHook']);
  });

  it('fails a handler with no action', async () => {
    const { runner } = setup();
    const { pod, container } = podWith(postStart({}));
    expect(await runner.runPostStart(pod, container, 'c1', '')).toMatchObject({ ok: false, message: expect.stringContaining('Cannot run handler') });
  });
});

describe('LifecycleHookRunner with httpGet', () => {
  let server: http.Server;
  let port = 0;
  let closedPort = 0;
  let seen: Array<{ path: string; headers: http.IncomingHttpHeaders }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push({ path: req.url ?? '', headers: req.headers });
      res.statusCode = req.url?.startsWith('/broken') ? 500 : 200;
      res.end('body');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    // A port nobody listens on: open one, note it, close it.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    seen = [];
  });

  it("GETs the path on the pod IP by port name, with the hook's headers and kubelet's User-Agent", async () => {
    const { runner, events } = setup();
    const { pod, container } = podWith(postStart({ httpGet: { path: '/started?x=1', port: 'web', httpHeaders: [{ name: 'X-Hook', value: 'post' }] } }), {
      ports: [{ name: 'web', containerPort: port }],
    });
    expect(await runner.runPostStart(pod, container, 'c1', '127.0.0.1')).toEqual({ ok: true });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.path).toBe('/started?x=1');
    expect(seen[0]?.headers['x-hook']).toBe('post');
    expect(seen[0]?.headers['user-agent']).toBe(LIFECYCLE_USER_AGENT);
    expect(LIFECYCLE_USER_AGENT).toMatch(/^kube-lifecycle\/\d+\.\d+$/);
    expect(events.list).toEqual([]);
  });

  it("uses the hook's host over the pod IP", async () => {
    const { runner } = setup();
    const { pod, container } = podWith(postStart({ httpGet: { path: '/h', port, host: '127.0.0.1' } }));
    expect(await runner.runPostStart(pod, container, 'c1', '192.0.2.1')).toEqual({ ok: true });
    expect(seen.map((s) => s.path)).toEqual(['/h']);
  });

  it('accepts an error status as kubelet does: only a failed request fails a hook', async () => {
    const { runner, events } = setup();
    const { pod, container } = podWith(postStart({ httpGet: { path: '/broken', port } }));
    expect(await runner.runPostStart(pod, container, 'c1', '127.0.0.1')).toEqual({ ok: true });
    expect(seen.map((s) => s.path)).toEqual(['/broken']);
    expect(events.list).toEqual([]);
  });

  it("fails when nothing answers, with kubelet's message", async () => {
    const { runner, events } = setup();
    const { pod, container } = podWith(postStart({ httpGet: { path: '/started', port: closedPort } }));
    const result = await runner.runPostStart(pod, container, 'c1', '127.0.0.1');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(
      new RegExp(
        `^HTTP lifecycle hook \\(/started\\) for Container "app" in Pod "web_shop\\(u-1\\)" failed - error: Get "http://127\\.0\\.0\\.1:${closedPort}/started": .*ECONNREFUSED`,
      ),
    );
    expect(events.list).toEqual([{ type: 'Warning', reason: 'FailedPostStartHook', message: 'PostStartHook failed' }]);
  });

  it('fails on a port name the container does not declare', async () => {
    const { runner } = setup();
    const { pod, container } = podWith(postStart({ httpGet: { path: '/', port: 'admin' } }), { ports: [{ name: 'web', containerPort: port }] });
    const result = await runner.runPostStart(pod, container, 'c1', '127.0.0.1');
    expect(result).toMatchObject({ ok: false, message: expect.stringContaining("couldn't find port: admin") });
    expect(seen).toEqual([]);
  });

  it('retries an HTTPS hook over HTTP, without Authorization, when the server speaks plain HTTP', async () => {
    const { runner, events } = setup();
    const { pod, container } = podWith(
      postStart({
        httpGet: {
          path: '/tls',
          port,
          scheme: 'HTTPS',
          httpHeaders: [
            { name: 'Authorization', value: 'Bearer t' },
            { name: 'X-Keep', value: '1' },
          ],
        },
      }),
    );
    expect(await runner.runPostStart(pod, container, 'c1', '127.0.0.1')).toEqual({ ok: true });
    const plain = seen.filter((s) => s.path === '/tls');
    expect(plain).toHaveLength(1);
    expect(plain[0]?.headers.authorization).toBeUndefined();
    expect(plain[0]?.headers['x-keep']).toBe('1');
    expect(events.list).toEqual([
      {
        type: 'Warning',
        reason: 'LifecycleHTTPFallback',
        message: `request to HTTPS lifecycle hook 127.0.0.1:${port} got HTTP response, retry with HTTP succeeded`,
      },
    ]);
  });

  it('runs an httpGet preStop and keeps the whole grace period when it answers at once', async () => {
    const { runner } = setup();
    const { pod, container } = podWith(preStop({ httpGet: { path: '/drain', port } }));
    expect(await runner.runPreStop(pod, container, 'c1', '127.0.0.1', 30)).toBe(30);
    expect(seen.map((s) => s.path)).toEqual(['/drain']);
  });
});

describe('LifecycleHookRunner.runPreStop', () => {
  it('returns the grace period (at least 2 s) when there is no preStop hook', async () => {
    const { runner, runtime } = setup();
    expect(await runner.runPreStop(podWith(undefined).pod, podWith(undefined).container, 'c1', '', 30)).toBe(30);
    expect(await runner.runPreStop(podWith(undefined).pod, podWith(undefined).container, 'c1', '', 1)).toBe(2);
    expect(runtime.calls).toEqual([]);
  });

  it('skips the hook when there is no grace to spend (a force delete)', async () => {
    const { runner, runtime } = setup();
    const { pod, container } = podWith(preStop({ exec: { command: ['drain'] } }));
    expect(await runner.runPreStop(pod, container, 'c1', '', 0)).toBe(2);
    expect(runtime.calls).toEqual([]);
  });

  it("takes the hook's time out of the grace period and bounds the exec by it", async () => {
    const { runner, runtime, clock, events } = setup(async () => {
      clock.advance(4_500);
      return execResult(0);
    });
    const { pod, container } = podWith(preStop({ exec: { command: ['drain'] } }));
    expect(await runner.runPreStop(pod, container, 'c1', '', 30)).toBe(26);
    expect(runtime.calls[0]?.options?.timeoutMs).toBe(30_000);
    expect(events.list).toEqual([]);
  });

  it("takes a sleep hook's time out of the grace period", async () => {
    const { runner, clock } = setup();
    const { pod, container } = podWith(preStop({ sleep: { seconds: 3 } }));
    let left: number | undefined;
    void runner.runPreStop(pod, container, 'c1', '', 30).then((n) => {
      left = n;
    });
    await flush();
    clock.advance(3_000);
    await flush();
    expect(left).toBe(27);
  });

  it('leaves 2 s when the hook used nearly all the grace period', async () => {
    const { runner, clock } = setup();
    const { pod, container } = podWith(preStop({ sleep: { seconds: 29 } }));
    let left: number | undefined;
    void runner.runPreStop(pod, container, 'c1', '', 30).then((n) => {
      left = n;
    });
    await flush();
    clock.advance(29_000);
    await flush();
    expect(left).toBe(2);
  });

  it('abandons a hook longer than the grace period and leaves 2 s', async () => {
    const { runner, clock, events } = setup();
    const { pod, container } = podWith(preStop({ sleep: { seconds: 60 } }));
    let left: number | undefined;
    void runner.runPreStop(pod, container, 'c1', '', 10).then((n) => {
      left = n;
    });
    await flush();
    clock.advance(9_999);
    await flush();
    expect(left).toBeUndefined();
    clock.advance(1);
    await flush();
    expect(left).toBe(2);
    expect(events.list).toEqual([]);
  });

  it('records FailedPreStopHook for a failing hook and still returns the remaining grace', async () => {
    const { runner, events } = setup(async () => execResult(1, '', 'cannot drain\n'));
    const { pod, container } = podWith(preStop({ exec: { command: ['drain'] } }));
    expect(await runner.runPreStop(pod, container, 'c1', '', 20)).toBe(20);
    expect(events.list).toEqual([{ type: 'Warning', reason: 'FailedPreStopHook', message: 'PreStopHook failed' }]);
  });

  it('abandons a hung exec at the grace period, and records its failure when it finally ends', async () => {
    let finish: (r: ExecResult) => void = () => {};
    const { runner, clock, events } = setup(
      () =>
        new Promise<ExecResult>((resolve) => {
          finish = resolve;
        }),
    );
    const { pod, container } = podWith(preStop({ exec: { command: ['drain'] } }));
    let left: number | undefined;
    void runner.runPreStop(pod, container, 'c1', '', 5).then((n) => {
      left = n;
    });
    await flush();
    clock.advance(5_000);
    await flush();
    expect(left).toBe(2);
    expect(events.list).toEqual([]);
    // The container is stopped; the exec inside it dies with it.
    finish(execResult(137));
    await flush();
    expect(events.list.map((e) => e.reason)).toEqual(['FailedPreStopHook']);
  });
});
