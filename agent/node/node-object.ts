// The v1 Node this agent stands for, built from the machine's facts, the
// configuration and the current conditions. Pure: the controller decides when to
// create it and which parts to send.
import type { NodeletConfiguration } from '../config/config.js';
import { VERSION } from '../api/version.js';
import type { NodeFacts } from './node-facts.js';
import type { NodeRegistrationOptions } from './node-registration-options.js';
import { nodeAllocatable, nodeCapacity } from './node-resources.js';
import type { Node, NodeAddress, NodeCondition, NodeStatus, NodeSystemInfo } from './node-types.js';

/** kubelet's --port default, reported when the agent's API is disabled (port 0). */
export const DEFAULT_KUBELET_PORT = 10250;

export const KUBELET_VERSION = `nodelet/v${VERSION}`;

export interface BuildNodeInput {
  config: Pick<NodeletConfiguration, 'nodeName' | 'maxPods' | 'port'>;
  options: NodeRegistrationOptions;
  facts: NodeFacts;
  /** `<runtimeName>://<runtimeVersion>`, e.g. docker://20.10.24; '' while the runtime never answered. */
  runtimeVersion: string;
  conditions: NodeCondition[];
}

export function nodeLabels(facts: NodeFacts, options: Pick<NodeRegistrationOptions, 'nodeLabels'>): Record<string, string> {
  return {
    'kubernetes.io/hostname': facts.hostname,
    'kubernetes.io/os': facts.operatingSystem,
    'kubernetes.io/arch': facts.architecture,
    'beta.kubernetes.io/os': facts.operatingSystem,
    'beta.kubernetes.io/arch': facts.architecture,
    ...options.nodeLabels,
  };
}

export function nodeAddresses(facts: NodeFacts): NodeAddress[] {
  return [
    { type: 'InternalIP', address: facts.internalIP },
    { type: 'Hostname', address: facts.hostname },
  ];
}

export function nodeSystemInfo(facts: NodeFacts, runtimeVersion: string): NodeSystemInfo {
  return {
    machineID: facts.machineID,
    systemUUID: facts.systemUUID,
    bootID: facts.bootID,
    kernelVersion: facts.kernelVersion,
    osImage: facts.osImage,
    containerRuntimeVersion: runtimeVersion,
    kubeletVersion: KUBELET_VERSION,
    kubeProxyVersion: '',
    operatingSystem: facts.operatingSystem,
    architecture: facts.architecture,
  };
}

/** The status fields this agent owns (others, such as images or volumesInUse, are left to their writers). */
export function buildNodeStatus(input: BuildNodeInput): NodeStatus {
  const { config, options, facts } = input;
  return {
    capacity: nodeCapacity(facts, config.maxPods),
    allocatable: nodeAllocatable(facts, config.maxPods, options),
    conditions: input.conditions,
    addresses: nodeAddresses(facts),
    daemonEndpoints: { kubeletEndpoint: { Port: config.port || DEFAULT_KUBELET_PORT } },
    nodeInfo: nodeSystemInfo(facts, input.runtimeVersion),
  };
}

/** The Node to create at registration. spec.podCIDR is left out: the controller manager owns it. */
export function buildNode(input: BuildNodeInput): Node {
  const taints = input.options.registerWithTaints;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: input.config.nodeName, labels: nodeLabels(input.facts, input.options) },
    spec: taints.length > 0 ? { taints: taints.map((t) => ({ ...t })) } : {},
    status: buildNodeStatus(input),
  };
}

/** `docker://20.10.24` from the runtime's answer to version(). */
export function runtimeVersionString(v: { runtimeName: string; runtimeVersion: string }): string {
  return `${v.runtimeName}://${v.runtimeVersion}`;
}
