// The engine side of pod networking (the CNI's job in a CRI world): the network the
// node's sandboxes join. Declared here, beside the Runtime, so the engine folder that
// implements it needs nothing of agent/network; agent/network decides what the
// node's pod network is and asks the driver to make it so.

export interface BridgeNetworkSpec {
  name: string;
  subnet: string;
  /** Linux bridge device name, at most 15 characters. */
  bridgeName: string;
  labels: Record<string, string>;
}

export interface NetworkInfo {
  name: string;
  subnet?: string;
  attachedContainers: number;
}

export interface PodNetworkDriver {
  inspectNetwork(name: string): Promise<NetworkInfo | undefined>;
  createBridgeNetwork(spec: BridgeNetworkSpec): Promise<void>;
  removeNetwork(name: string): Promise<void>;
}

export class PodNetworkError extends Error {
  readonly reason = 'NetworkNotReady';
  constructor(message: string) {
    super(message);
    this.name = 'PodNetworkError';
  }
}
