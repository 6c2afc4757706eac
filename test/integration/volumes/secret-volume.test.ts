// Secret-bearing volumes on a real tmpfs: nothing of a secret reaches the node's disk.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { lstat, mkdtemp, readFile, readdir, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod, Volume } from '../../../agent/api/types.js';
import { isMountPoint, mountPointsUnder, parseMountInfo, unmountAllUnder } from '../../../agent/volumes/mount.js';
import { ProjectedVolume } from '../../../agent/volumes/projected-volume.js';
import { SecretVolume } from '../../../agent/volumes/secret-volume.js';
import type { KeyedObject, ObjectSource, VolumeSetUpContext } from '../../../agent/volumes/types.js';

const TMPFS_MAGIC = 0x01021994;

const secrets = new Map<string, Record<string, Buffer>>();
const objects: ObjectSource = {
  configMap: async () => undefined,
  secret: async (ns, name): Promise<KeyedObject | undefined> => {
    const data = secrets.get(`${ns}/${name}`);
    return data ? { data } : undefined;
  },
  serviceAccountToken: async () => 'eyJhbGciOi.token.sig',
};

function makePod(volume: Volume): Pod {
  return { metadata: { name: 'web', namespace: 'shop', uid: 'uid-int' }, spec: { containers: [{ name: 'app' }], volumes: [volume] } };
}

async function tmpfsMountsAt(dir: string): Promise<number> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m.mountPoint === dir && m.fsType === 'tmpfs').length;
}

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'nodelet-secretvol-'));
  secrets.clear();
});

afterEach(async () => {
  // Even when a test failed half-way: no tmpfs may outlive it.
  await unmountAllUnder(root);
  await rm(root, { recursive: true, force: true });
});

function context(volume: Volume): VolumeSetUpContext {
  return { pod: makePod(volume), volume, dir: join(root, volume.name), objects, nodeName: 'node-1', defaultMemoryVolumeBytes: 64 << 20 };
}

describe('SecretVolume on tmpfs', () => {
  it('writes the secret into a tmpfs of its own, mounts it once, updates it and unmounts on teardown', async () => {
    secrets.set('shop/db', { password: Buffer.from('s3cr3t') });
    const volume: Volume = { name: 'creds', secret: { secretName: 'db', defaultMode: 0o400 } };
    const ctx = context(volume);
    const kind = new SecretVolume();

    await kind.setUp(ctx);
    expect(await isMountPoint(ctx.dir)).toBe(true);
    expect(Number((await statfs(join(ctx.dir, '..data', 'password'))).type)).toBe(TMPFS_MAGIC);
    expect(((await lstat(ctx.dir)).mode & 0o7777).toString(8)).toBe('755');
    expect(await readFile(join(ctx.dir, 'password'), 'utf8')).toBe('s3cr3t');

    await kind.setUp(ctx);
    expect(await tmpfsMountsAt(ctx.dir)).toBe(1);

    secrets.set('shop/db', { password: Buffer.from('rotated') });
    await kind.setUp(ctx);
    expect(await readFile(join(ctx.dir, 'password'), 'utf8')).toBe('rotated');
    expect(await tmpfsMountsAt(ctx.dir)).toBe(1);

    await kind.tearDown(ctx.dir);
    expect(await mountPointsUnder(root)).toEqual([]);
    await expect(lstat(ctx.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a missing secret leaves no mount behind', async () => {
    const volume: Volume = { name: 'creds', secret: { secretName: 'absent' } };
    await expect(new SecretVolume().setUp(context(volume))).rejects.toThrow('secret "absent" not found');
    expect(await mountPointsUnder(root)).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });
});

describe('ProjectedVolume with a token on tmpfs', () => {
  it('puts the service account token on a tmpfs and removes it on teardown', async () => {
    const volume: Volume = { name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } };
    const ctx = context(volume);
    const kind = new ProjectedVolume();
    await kind.setUp(ctx);
    expect(await isMountPoint(ctx.dir)).toBe(true);
    expect(await readFile(join(ctx.dir, 'token'), 'utf8')).toBe('eyJhbGciOi.token.sig');
    await kind.tearDown(ctx.dir);
    expect(await mountPointsUnder(root)).toEqual([]);
    await expect(lstat(ctx.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
