// Node status as kubelet reports it: computed every status period, sent as a
// strategic-merge PATCH of nodes/<name>/status only when something other than the
// heartbeat times changed, or when the report frequency (5 min) has passed since
// the last one, or on every period when the status is the heartbeat (no Lease API).
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../api/clock.js';
import { nodeConditions, readyCondition } from './node-conditions.js';
import type { NodeFacts } from './node-facts.js';
import type { NodeHealthProbe } from './node-health-probe.js';
import { buildNode, buildNodeStatus, type BuildNodeInput } from './node-object.js';
import { nodePath } from './node-registrar.js';
import { nodeStatusPatch, statusChanged } from './node-status-diff.js';
import type { Node, NodeStatus } from './node-types.js';

export interface NodeStatusReporterOptions {
  client: KubeClient;
  config: BuildNodeInput['config'];
  options: BuildNodeInput['options'];
  facts: NodeFacts;
  probe: NodeHealthProbe;
  reportFrequencyMs: number;
  clock: Clock;
  logger: Logger;
}

export class NodeStatusReporter {
  private lastReportAt: number | undefined;
  private runtimeVersion = '';

  constructor(private readonly o: NodeStatusReporterOptions) {}

  /** The Node to register, with conditions measured now. */
  async nodeToRegister(): Promise<Node> {
    const { input } = await this.measure(undefined);
    return buildNode(input);
  }

  /** Remember that `node` was just written whole (created), so its status counts as a report. */
  registered(node: Node, created: boolean): void {
    this.lastReportAt = created ? this.o.clock.now() : undefined;
    if (created) this.runtimeVersion ||= node.status?.nodeInfo?.containerRuntimeVersion ?? '';
  }

  /**
   * Computes the status against `current` (the Node as the server has it) and
   * sends it when needed. Resolves to the patched Node, or undefined when nothing
   * was sent. `heartbeat`: send even when unchanged (the status is the heartbeat).
   */
  async report(current: Node, heartbeat: boolean, signal?: AbortSignal): Promise<Node | undefined> {
    const now = this.o.clock.now();
    const { status } = await this.measure(current);
    const due = this.lastReportAt === undefined || now - this.lastReportAt >= this.o.reportFrequencyMs;
    if (!heartbeat && !due && !statusChanged(current.status, status)) return undefined;
    const name = this.o.config.nodeName;
    const patched = await this.o.client.patch<Node>(nodePath(name, 'status'), nodeStatusPatch(current.status, status), 'strategic', signal ? { signal } : {});
    this.lastReportAt = now;
    this.logReadyChange(current, patched);
    return patched;
  }

  private async measure(current: Node | undefined): Promise<{ input: BuildNodeInput; status: NodeStatus }> {
    const sample = await this.o.probe.sample();
    // A runtime that is down keeps the version it last reported: the node runs the same engine.
    if (sample.runtimeVersion) this.runtimeVersion = sample.runtimeVersion;
    const conditions = nodeConditions(sample, current?.status?.conditions, new Date(this.o.clock.now()));
    const input: BuildNodeInput = {
      config: this.o.config,
      options: this.o.options,
      facts: this.o.facts,
      runtimeVersion: this.runtimeVersion,
      conditions,
    };
    return { input, status: buildNodeStatus(input) };
  }

  private logReadyChange(before: Node, after: Node): void {
    const was = readyCondition(before.status?.conditions);
    const now = readyCondition(after.status?.conditions);
    if (!now || was?.status === now.status) return;
    const fields = { node: this.o.config.nodeName, ready: now.status, reason: now.reason, message: now.message };
    if (now.status === 'True') this.o.logger.info(fields, 'node is ready');
    else this.o.logger.warn(fields, 'node is not ready');
  }
}
