// Container lifecycle hooks (postStart, preStop) with kubelet's semantics:
// - handlers are tried in kubelet's order exec, httpGet, sleep; a tcpSocket hook is
//   accepted by the API but kubelet cannot run it, so it fails (the API docs say so);
// - an httpGet hook fails only when the request itself fails: kubelet never looks at
//   the status code (kubernetes#56963), and retries an HTTPS hook over HTTP when the
//   server answered in plain HTTP (event LifecycleHTTPFallback);
// - failure events carry a fixed text ("PostStartHook failed"), never the hook's
//   output, so a secret printed by a hook does not leak into events; the detailed
//   message is returned (the worker puts it in the container's status, as kubelet does);
// - preStop time comes out of the grace period, leaving at least 2 s for SIGTERM, and
//   a preStop that outlives the grace period is abandoned.
// kubelet runs postStart with no time limit; here it is bounded by the pod's
// terminationGracePeriodSeconds so a hung hook cannot hold the pod worker forever.
import { podKey, type Container, type LifecycleHandler, type Pod } from '../api/types.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { Logger } from '../log/logger.js';
import type { Runtime } from '../runtime/runtime.js';
import { realClock, type Clock } from '../api/clock.js';
import { joinHostPort, resolvePort } from './container-port.js';
import { MAX_EXEC_OUTPUT_BYTES } from './exec-handler.js';
import { httpProbe } from './http-handler.js';
import { PROBE_USER_AGENT, ProbeError, formatDuration, type ProbeOutcome } from './probe-outcome.js';

/** kubelet's minimumGracePeriodInSeconds: what SIGTERM always gets, whatever the preStop hook used. */
export const MINIMUM_GRACE_SECONDS = 2;
/** The v1 default of terminationGracePeriodSeconds. */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;
/** kubelet sends `kube-lifecycle/<major>.<minor>` from hooks, beside `kube-probe/…` from probes. */
export const LIFECYCLE_USER_AGENT = PROBE_USER_AGENT.replace('kube-probe/', 'kube-lifecycle/');

export type PostStartResult = { ok: true } | { ok: false; message: string };

export interface LifecycleHookRunnerDeps {
  runtime: Pick<Runtime, 'exec'>;
  clock?: Clock;
  logger: Logger;
  events: EventRecorder;
}

/**
 * Seconds left for SIGTERM once a preStop hook has run for `elapsedMs`: kubelet
 * subtracts the whole seconds the hook took and never leaves less than 2.
 */
export function remainingGraceSeconds(gracePeriodSeconds: number, elapsedMs: number): number {
  const grace = Number.isFinite(gracePeriodSeconds) ? Math.floor(gracePeriodSeconds) : 0;
  const spent = Math.floor(Math.max(0, elapsedMs) / 1000);
  return Math.max(MINIMUM_GRACE_SECONDS, grace - spent);
}

/** kubelet's format.Pod: `name_namespace(uid)`. */
export function formatPodForHook(pod: Pod): string {
  return `${pod.metadata.name ?? ''}_${pod.metadata.namespace ?? 'default'}(${pod.metadata.uid ?? ''})`;
}

type HookName = 'PostStart' | 'PreStop';

interface HookRun {
  pod: Pod;
  container: Container;
  containerId: string;
  podIP: string;
  handler: LifecycleHandler;
  /** Upper bound for the whole hook; each action also gets it as its own timeout. */
  boundMs: number;
  /** Aborted when the bound passes, so a sleep hook stops its timer. */
  signal: AbortSignal;
}

export class LifecycleHookRunner {
  private readonly runtime: Pick<Runtime, 'exec'>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly events: EventRecorder;

  constructor(deps: LifecycleHookRunnerDeps) {
    this.runtime = deps.runtime;
    this.clock = deps.clock ?? realClock;
    this.log = deps.logger;
    this.events = deps.events;
  }

  /**
   * Runs the container's postStart hook (none: ok). On failure records a
   * FailedPostStartHook event and returns kubelet's message; the caller then kills
   * the container with reason PostStartHookError. Never throws.
   */
  async runPostStart(pod: Pod, container: Container, containerId: string, podIP: string): Promise<PostStartResult> {
    const handler = container.lifecycle?.postStart;
    if (!handler) return { ok: true };
    const graceSeconds = Math.max(MINIMUM_GRACE_SECONDS, pod.spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS);
    const boundMs = graceSeconds * 1000;
    const controller = new AbortController();
    const run: HookRun = { pod, container, containerId, podIP, handler, boundMs, signal: controller.signal };
    const log = this.hookLog(pod, container, 'PostStart');
    log.debug({ handler: handlerKind(handler) }, 'running postStart hook');

    const outcome = await this.within(this.runHandler(run, log), boundMs);
    controller.abort();
    const failure = outcome.finished
      ? outcome.value
      : hookFailure(run, `did not complete within ${formatDuration(boundMs)} (the pod's terminationGracePeriodSeconds bounds postStart)`);
    if (failure === undefined) return { ok: true };
    log.warn({ reason: 'FailedPostStartHook' }, failure);
    this.recordWarning(pod, 'FailedPostStartHook', 'PostStartHook failed', log);
    return { ok: false, message: failure };
  }

  /**
   * Runs the container's preStop hook within `gracePeriodSeconds` and returns the
   * seconds left for SIGTERM (at least 2). A failing hook records FailedPreStopHook
   * and the stop goes on; a hook still running when the grace period ends is
   * abandoned. With no hook, or no grace to spend, nothing runs. Never throws.
   */
  async runPreStop(pod: Pod, container: Container, containerId: string, podIP: string, gracePeriodSeconds: number): Promise<number> {
    const handler = container.lifecycle?.preStop;
    // kubelet runs preStop only when there is grace to spend (a force delete has none).
    if (!handler || !(gracePeriodSeconds > 0)) return remainingGraceSeconds(gracePeriodSeconds, 0);
    const boundMs = Math.floor(gracePeriodSeconds) * 1000;
    const controller = new AbortController();
    const run: HookRun = { pod, container, containerId, podIP, handler, boundMs, signal: controller.signal };
    const log = this.hookLog(pod, container, 'PreStop');
    log.debug({ handler: handlerKind(handler), grace: gracePeriodSeconds }, 'running preStop hook');

    const start = this.clock.now();
    // The event is recorded whenever the hook ends in failure, even after it was abandoned, as kubelet's goroutine does.
    const work = this.runHandler(run, log).then((failure) => {
      if (failure === undefined) return;
      log.warn({ reason: 'FailedPreStopHook' }, failure);
      this.recordWarning(pod, 'FailedPreStopHook', 'PreStopHook failed', log);
    });
    const outcome = await this.within(work, boundMs);
    controller.abort();
    const elapsedMs = this.clock.now() - start;
    if (!outcome.finished) {
      log.info({ grace: gracePeriodSeconds }, 'preStop hook not completed in grace period; stopping the container anyway');
      return MINIMUM_GRACE_SECONDS;
    }
    return remainingGraceSeconds(gracePeriodSeconds, elapsedMs);
  }

  private hookLog(pod: Pod, container: Container, hook: HookName): Logger {
    return this.log.child({ pod: podKey(pod), uid: pod.metadata.uid, container: container.name, hook });
  }

  /** An event recorder that throws must not turn a hook's outcome into a crash of the pod worker. */
  private recordWarning(pod: Pod, reason: string, message: string, log: Logger): void {
    try {
      this.events.record(pod, 'Warning', reason, message);
    } catch (err) {
      log.error({ err, event: reason }, 'recording an event failed');
    }
  }

  /** `work`'s value, or `finished: false` once `ms` pass on the clock. */
  private within<T>(work: Promise<T>, ms: number): Promise<{ finished: true; value: T } | { finished: false }> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => resolve({ finished: false }), ms);
      work.then(
        (value) => {
          timer.cancel();
          resolve({ finished: true, value });
        },
        (err: unknown) => {
          timer.cancel();
          reject(err);
        },
      );
    });
  }

  /** undefined on success, else kubelet's failure message. */
  private async runHandler(run: HookRun, log: Logger): Promise<string | undefined> {
    const { handler } = run;
    try {
      if (handler.exec) return await this.runExec(run);
      if (handler.httpGet) return await this.runHttpGet(run, log);
      if (handler.sleep) return await this.runSleep(run);
      const why = handler.tcpSocket
        ? `tcpSocket (port ${handler.tcpSocket.port}) is not supported as a lifecycle handler`
        : 'no exec, httpGet or sleep action set';
      return `Cannot run handler: invalid handler: ${why}`;
    } catch (err) {
      return hookFailure(run, (err as Error)?.message ?? String(err));
    }
  }

  private async runExec(run: HookRun): Promise<string | undefined> {
    const command = run.handler.exec?.command ?? [];
    if (command.length === 0) return hookFailure(run, 'exec command is empty', '');
    let result;
    try {
      result = await this.runtime.exec(run.containerId, command, { timeoutMs: run.boundMs, maxOutputBytes: MAX_EXEC_OUTPUT_BYTES });
    } catch (err) {
      return hookFailure(run, (err as Error)?.message ?? String(err), '');
    }
    // kubelet's output is stdout followed by stderr.
    const output = Buffer.concat([result.stdout, result.stderr]).subarray(0, MAX_EXEC_OUTPUT_BYTES).toString('utf8');
    const joined = command.join(' ');
    if (result.timedOut) return hookFailure(run, `command ${JSON.stringify(joined)} timed out after ${formatDuration(run.boundMs)}`, output);
    if (result.exitCode !== 0) {
      // The CRI's ExecSync error: the exit code and stderr.
      return hookFailure(run, `command '${joined}' exited with ${result.exitCode}: ${result.stderr.toString('utf8')}`, output);
    }
    return undefined;
  }

  private async runHttpGet(run: HookRun, log: Logger): Promise<string | undefined> {
    const action = run.handler.httpGet!;
    const target = { podIP: run.podIP, container: run.container, userAgent: LIFECYCLE_USER_AGENT };
    let outcome: ProbeOutcome;
    try {
      outcome = await httpProbe(action, target, run.boundMs);
    } catch (err) {
      if (err instanceof ProbeError) return hookFailure(run, err.message);
      throw err;
    }
    if (action.scheme === 'HTTPS' && isPlainHttpAnswer(outcome)) {
      // kubelet's compatibility path for hooks written before it honoured `scheme`: retry over HTTP, without credentials.
      log.debug({ err: outcome.message }, 'HTTPS lifecycle hook got an HTTP response; retrying with HTTP');
      const httpHeaders = action.httpHeaders?.filter((h) => h.name.toLowerCase() !== 'authorization');
      const retry = await httpProbe({ ...action, scheme: 'HTTP', httpHeaders }, target, run.boundMs);
      if (!isRequestError(retry)) {
        const hostPort = joinHostPort(action.host || run.podIP, resolvePort(action.port, run.container));
        this.recordWarning(run.pod, 'LifecycleHTTPFallback', `request to HTTPS lifecycle hook ${hostPort} got HTTP response, retry with HTTP succeeded`, log);
        return undefined;
      }
    }
    if (isRequestError(outcome)) return hookFailure(run, outcome.message ?? 'request failed');
    if (outcome.result === 'failure') {
      log.info({ statusCode: outcome.statusCode }, 'HTTP lifecycle hook answered with an error status; like kubelet, only a failed request fails the hook');
    }
    return undefined;
  }

  private runSleep(run: HookRun): Promise<string | undefined> {
    const seconds = run.handler.sleep?.seconds ?? 0;
    const ms = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
    return new Promise((resolve) => {
      if (run.signal.aborted) return resolve(undefined);
      // Past the bound nobody awaits the result any more: just stop the timer.
      const onAbort = () => {
        timer.cancel();
        resolve(undefined);
      };
      const timer = this.clock.setTimeout(() => {
        run.signal.removeEventListener('abort', onAbort);
        resolve(undefined);
      }, ms);
      run.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function handlerKind(handler: LifecycleHandler): string {
  if (handler.exec) return 'exec';
  if (handler.httpGet) return 'httpGet';
  if (handler.sleep) return 'sleep';
  if (handler.tcpSocket) return 'tcpSocket';
  return 'none';
}

/**
 * kubelet's message for a failed hook, e.g.
 * `Exec lifecycle hook ([sh -c exit 1]) for Container "app" in Pod "web_default(uid)" failed - error: …, message: "…"`.
 * `output` is given for exec hooks only, which add it as `message`.
 */
function hookFailure(run: HookRun, error: string, output?: string): string {
  const { handler, container, pod } = run;
  let label: string;
  if (handler.exec) label = `Exec lifecycle hook ([${(handler.exec.command ?? []).join(' ')}])`;
  else if (handler.httpGet) label = `HTTP lifecycle hook (${handler.httpGet.path ?? ''})`;
  else if (handler.sleep) label = `Sleep lifecycle hook (${handler.sleep.seconds})`;
  else return `Cannot run handler: ${error}`;
  const base = `${label} for Container ${JSON.stringify(container.name)} in Pod ${JSON.stringify(formatPodForHook(pod))} failed - error: ${error}`;
  return handler.exec ? `${base}, message: ${JSON.stringify(output ?? '')}` : base;
}

/**
 * Whether the request itself failed (no answer, a timeout, too many redirects), as
 * opposed to an answer with an error status, which kubelet accepts for hooks.
 * httpProbe sets statusCode on every answer; only the redirect limit fails with a 3xx.
 */
function isRequestError(outcome: ProbeOutcome): boolean {
  if (outcome.result === 'success') return false;
  const status = outcome.statusCode;
  return status === undefined || (status >= 300 && status < 400);
}

/** An HTTPS request that met a plain-HTTP server: OpenSSL reads "HTTP/1.1 …" as a bad TLS record. */
function isPlainHttpAnswer(outcome: ProbeOutcome): boolean {
  return outcome.result === 'failure' && outcome.statusCode === undefined && /wrong version number/i.test(outcome.message ?? '');
}
