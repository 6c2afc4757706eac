import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { hostPathRefusal } from '../../../agent/volumes/host-path-policy.js';
import { checkHostPathType } from '../../../agent/volumes/host-path-volume.js';

function pod(readOnly: boolean): Pod {
  return { metadata: { name: 'p', uid: 'u' }, spec: { containers: [{ name: 'c', image: 'x', volumeMounts: [{ name: 'h', mountPath: '/h', readOnly }] }] } };
}

describe('hostPathRefusal (allowedHostPaths)', () => {
  it('allows everything when the list is empty', () => {
    expect(hostPathRefusal(pod(false), 'h', '/etc', [])).toBeUndefined();
  });
  it('matches prefixes by whole segments', () => {
    const allowed = [{ pathPrefix: '/var/data' }];
    expect(hostPathRefusal(pod(false), 'h', '/var/data/x', allowed)).toBeUndefined();
    expect(hostPathRefusal(pod(false), 'h', '/var/data', allowed)).toBeUndefined();
    expect(hostPathRefusal(pod(false), 'h', '/var/database', allowed)).toMatch(/path "\/var\/database" is not allowed/);
  });
  it('admits a read-only prefix only for read-only mounts', () => {
    const allowed = [{ pathPrefix: '/srv', readOnly: true }];
    expect(hostPathRefusal(pod(true), 'h', '/srv/a', allowed)).toBeUndefined();
    expect(hostPathRefusal(pod(false), 'h', '/srv/a', allowed)).toMatch(/read-only only.*container "c"/);
  });
});

describe('checkHostPathType', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodelet-hp-'));
    await mkdir(join(dir, 'd'));
    await writeFile(join(dir, 'f'), 'x');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts matching types and the empty type without looking', async () => {
    await checkHostPathType('v', join(dir, 'd'), 'Directory');
    await checkHostPathType('v', join(dir, 'f'), 'File');
    await checkHostPathType('v', join(dir, 'missing'), '');
    expect((await stat(join(dir, 'd'))).isDirectory()).toBe(true);
  });
  it('creates DirectoryOrCreate (0755, with parents) and FileOrCreate (0644)', async () => {
    await checkHostPathType('v', join(dir, 'a', 'b'), 'DirectoryOrCreate');
    expect((await stat(join(dir, 'a', 'b'))).mode & 0o777).toBe(0o755);
    await checkHostPathType('v', join(dir, 'd', 'new'), 'FileOrCreate');
    const st = await stat(join(dir, 'd', 'new'));
    expect(st.isFile() && st.mode & 0o777).toBe(0o644);
  });
  it('names the path, the type and what was found on a mismatch', async () => {
    await expect(checkHostPathType('v', join(dir, 'f'), 'Directory')).rejects.toThrow(
      /f is not a directory as type Directory requires \(found a regular file\)/,
    );
    await expect(checkHostPathType('v', join(dir, 'd'), 'FileOrCreate')).rejects.toThrow(/found a directory/);
    await expect(checkHostPathType('v', join(dir, 'nope', 'f'), 'FileOrCreate')).rejects.toThrow(/parent directory .*nope does not exist/);
    await expect(checkHostPathType('v', join(dir, 'f'), 'Fancy')).rejects.toThrow(/unsupported type "Fancy"/);
  });
});
