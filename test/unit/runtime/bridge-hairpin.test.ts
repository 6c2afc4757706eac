import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enableHairpinOnBridgePorts } from '../../../agent/runtime/docker/bridge-hairpin.js';

describe('enableHairpinOnBridgePorts', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('turns hairpin on for the ports that have it off and reports them', async () => {
    root = await mkdtemp(path.join(tmpdir(), 'hairpin-'));
    for (const [port, mode] of [
      ['veth1', '0'],
      ['veth2', '1'],
    ] as const) {
      await mkdir(path.join(root, 'nlt0', 'brif', port), { recursive: true });
      await writeFile(path.join(root, 'nlt0', 'brif', port, 'hairpin_mode'), `${mode}\n`);
    }
    expect(await enableHairpinOnBridgePorts('nlt0', root)).toEqual(['veth1']);
    expect(await readFile(path.join(root, 'nlt0', 'brif', 'veth1', 'hairpin_mode'), 'utf8')).toBe('1');
    expect(await enableHairpinOnBridgePorts('nlt0', root)).toEqual([]);
  });

  it('refuses a name that is not a device name, so no path escapes /sys/class/net', async () => {
    await expect(enableHairpinOnBridgePorts('../etc')).rejects.toThrow(RangeError);
  });
});
