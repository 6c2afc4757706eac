// Hairpin mode on the ports of a pod bridge, as kubelet's --hairpin-mode=hairpin-veth
// (and the bridge CNI plugin's hairpinMode) does. A pod that reaches its own Service
// and is chosen as the backend gets its packet DNATed back to itself; with
// br_netfilter the bridge then forwards that frame out of the port it came in on,
// which a bridge refuses unless the port has hairpin mode on. Without it the
// connection hangs (the masquerade mark alone is not enough).
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const BRIDGE_NAME = /^[\w.-]{1,15}$/;

/**
 * Turns hairpin mode on for every port of `bridge` that has it off; returns the ports
 * changed. All ports rather than the newest one: they are all pod ports, and a port
 * of a sandbox made before (or while the agent was down) is covered too.
 */
export async function enableHairpinOnBridgePorts(bridge: string, sysClassNet = '/sys/class/net'): Promise<string[]> {
  if (!BRIDGE_NAME.test(bridge)) throw new RangeError(`bridge name ${JSON.stringify(bridge)} is not a network device name`);
  const brif = path.join(sysClassNet, bridge, 'brif');
  const changed: string[] = [];
  for (const port of await readdir(brif)) {
    const file = path.join(brif, port, 'hairpin_mode');
    try {
      if ((await readFile(file, 'utf8')).trim() === '1') continue;
      await writeFile(file, '1');
      changed.push(port);
    } catch (err) {
      // The port left the bridge meanwhile (its sandbox was removed): nothing to do.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return changed;
}
