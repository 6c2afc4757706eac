// Docker side of the pod network (the CNI's job in a CRI world): bridge networks
// owned by nodelet. The agent gets it from the runtime (DockerRuntime.podNetwork).
import Docker from 'dockerode';
import { PodNetworkError, type BridgeNetworkSpec, type NetworkInfo, type PodNetworkDriver } from '../pod-network-driver.js';
import { DOCKER_SOCKET_PATH } from './docker-socket.js';

export class DockerNetworkDriver implements PodNetworkDriver {
  private readonly docker: Docker;

  constructor(socketPath = DOCKER_SOCKET_PATH) {
    this.docker = new Docker({ socketPath });
  }

  async inspectNetwork(name: string): Promise<NetworkInfo | undefined> {
    try {
      const info = (await this.docker.getNetwork(name).inspect()) as {
        Name: string;
        IPAM?: { Config?: Array<{ Subnet?: string }> };
        Containers?: Record<string, unknown>;
      };
      return {
        name: info.Name,
        subnet: info.IPAM?.Config?.[0]?.Subnet,
        attachedContainers: Object.keys(info.Containers ?? {}).length,
      };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  async createBridgeNetwork(spec: BridgeNetworkSpec): Promise<void> {
    try {
      await this.docker.createNetwork({
        Name: spec.name,
        Driver: 'bridge',
        CheckDuplicate: true,
        IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet }] },
        Options: {
          'com.docker.network.bridge.name': spec.bridgeName,
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
        },
        Labels: spec.labels,
      });
    } catch (err) {
      const e = err as { statusCode?: number; json?: { message?: string }; message: string };
      if (e.statusCode === 409) return; // created concurrently by another start of this agent
      throw new PodNetworkError(`cannot create pod network ${spec.name} (${spec.subnet}): ${e.json?.message ?? e.message}`);
    }
  }

  /**
   * Docker refuses to remove a network until it has released the endpoints of
   * containers removed a moment earlier, so a refusal is retried for a few seconds.
   */
  async removeNetwork(name: string, attempts = 20): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await this.docker.getNetwork(name).remove();
        return;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return;
        if (i >= attempts) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}
