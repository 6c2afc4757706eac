import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import { lstat, mkdtemp, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod, Volume } from '../../../agent/api/types.js';
import { FakeClock } from '../../../agent/api/clock.js';
import { ConfigMapVolume } from '../../../agent/volumes/config-map-volume.js';
import { DownwardAPIVolume } from '../../../agent/volumes/downward-api-volume.js';
import { ProjectedVolume } from '../../../agent/volumes/projected-volume.js';
import { SecretVolume } from '../../../agent/volumes/secret-volume.js';
import { VolumeError, type KeyedObject, type ObjectSource, type VolumeKind, type VolumeSetUpContext } from '../../../agent/volumes/types.js';

// Mounting needs the kernel: here mountTmpfs only records its calls (the real
// tmpfs is in test/integration/volumes/secret-volume.test.ts).
const mounts = vi.hoisted(() => ({ calls: [] as Array<{ dir: string; options: unknown }> }));
vi.mock('../../../agent/volumes/mount.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../../agent/volumes/mount.js')>()),
  mountTmpfs: async (dir: string, options: unknown) => {
    mounts.calls.push({ dir, options });
  },
}));

const TS_DIR = /^\.\.\d{4}_\d{2}_\d{2}_/;

class FakeObjects implements ObjectSource {
  readonly configMaps = new Map<string, Record<string, Buffer>>();
  readonly secrets = new Map<string, Record<string, Buffer>>();
  reads: string[] = [];
  failWith: Error | undefined;
  tokens: Array<{ audience: string | undefined; expirationSeconds: number }> = [];
  serviceAccountToken?: (pod: Pod, audience: string | undefined, expirationSeconds: number) => Promise<string | undefined>;

  constructor(withTokens = true) {
    if (withTokens) {
      this.serviceAccountToken = async (_pod, audience, expirationSeconds) => {
        this.tokens.push({ audience, expirationSeconds });
        return `token-${this.tokens.length}`;
      };
    }
  }

  async configMap(namespace: string, name: string): Promise<KeyedObject | undefined> {
    this.reads.push(`configmap ${namespace}/${name}`);
    if (this.failWith) throw this.failWith;
    const data = this.configMaps.get(`${namespace}/${name}`);
    return data ? { data } : undefined;
  }

  async secret(namespace: string, name: string): Promise<KeyedObject | undefined> {
    this.reads.push(`secret ${namespace}/${name}`);
    if (this.failWith) throw this.failWith;
    const data = this.secrets.get(`${namespace}/${name}`);
    return data ? { data } : undefined;
  }
}

const b = (s: string) => Buffer.from(s, 'utf8');

function makePod(volumes: Volume[], fsGroup?: number): Pod {
  return {
    metadata: { name: 'web', namespace: 'shop', uid: 'uid-1', labels: { app: 'web', tier: 'front' }, annotations: { note: 'a "b"' } },
    spec: {
      containers: [{ name: 'app', resources: { limits: { memory: '128Mi' } } }],
      volumes,
      serviceAccountName: 'web-sa',
      ...(fsGroup !== undefined ? { securityContext: { fsGroup } } : {}),
    },
  };
}

let root: string;
let objects: FakeObjects;
const tornDown: Array<[VolumeKind, string]> = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'nodelet-apivol-'));
  objects = new FakeObjects();
  mounts.calls = [];
});

afterEach(async () => {
  for (const [kind, dir] of tornDown.splice(0)) await kind.tearDown(dir);
  await rm(root, { recursive: true, force: true });
});

function context(pod: Pod, volume: Volume, extra: Partial<VolumeSetUpContext> = {}): VolumeSetUpContext {
  return { pod, volume, dir: join(root, volume.name), objects, nodeName: 'node-1', defaultMemoryVolumeBytes: 64 * 1024 * 1024, ...extra };
}

async function setUp(kind: VolumeKind, pod: Pod, volume: Volume, extra: Partial<VolumeSetUpContext> = {}) {
  const ctx = context(pod, volume, extra);
  tornDown.push([kind, ctx.dir]);
  return { ctx, mounted: await kind.setUp(ctx) };
}

async function visible(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).filter((n) => !n.startsWith('..')).sort()) {
    out[name] = (await stat(join(dir, name))).isDirectory() ? '<dir>' : await readFile(join(dir, name), 'utf8');
  }
  return out;
}

const modeOf = async (path: string) => ((await stat(path)).mode & 0o7777).toString(8);

describe('ConfigMapVolume', () => {
  it('writes the listed keys at their paths with their modes, read-only and dynamic', async () => {
    objects.configMaps.set('shop/web-config', { 'app.conf': b('port=80'), 'extra.txt': b('x'), 'logo.png': Buffer.from([137, 80, 78, 71]) });
    const volume: Volume = {
      name: 'config',
      configMap: {
        name: 'web-config',
        defaultMode: 0o440,
        items: [
          { key: 'app.conf', path: 'etc/app.conf', mode: 0o600 },
          { key: 'logo.png', path: 'logo' },
        ],
      },
    };
    const { ctx, mounted } = await setUp(new ConfigMapVolume(), makePod([volume]), volume);
    expect(mounted).toEqual({ hostPath: ctx.dir, readOnly: true, dynamic: true });
    expect(objects.reads).toEqual(['configmap shop/web-config']);
    expect((await readdir(ctx.dir)).filter((n) => !n.startsWith('..')).sort()).toEqual(['etc', 'logo']);
    expect(await readFile(join(ctx.dir, 'etc/app.conf'), 'utf8')).toBe('port=80');
    expect(await readFile(join(ctx.dir, 'logo'))).toEqual(Buffer.from([137, 80, 78, 71]));
    expect(await modeOf(join(ctx.dir, 'etc/app.conf'))).toBe('600');
    expect(await modeOf(join(ctx.dir, 'logo'))).toBe('440');
    expect(mounts.calls).toEqual([]);
  });

  it('projects every key with 0644 by default', async () => {
    objects.configMaps.set('shop/c', { a: b('1'), b: b('2') });
    const volume: Volume = { name: 'c', configMap: { name: 'c' } };
    const { ctx } = await setUp(new ConfigMapVolume(), makePod([volume]), volume);
    expect(await visible(ctx.dir)).toEqual({ a: '1', b: '2' });
    expect(await modeOf(join(ctx.dir, 'a'))).toBe('644');
  });

  it('a missing ConfigMap is a FailedMount error unless optional (then an empty volume)', async () => {
    const volume: Volume = { name: 'c', configMap: { name: 'absent' } };
    const kind = new ConfigMapVolume();
    const err = await kind.setUp(context(makePod([volume]), volume)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VolumeError);
    expect((err as VolumeError).message).toBe('configmap "absent" not found');
    expect((err as VolumeError).reason).toBe('FailedMount');
    await expect(lstat(join(root, 'c'))).rejects.toMatchObject({ code: 'ENOENT' });

    const optional: Volume = { name: 'c', configMap: { name: 'absent', optional: true } };
    const { ctx } = await setUp(kind, makePod([optional]), optional);
    expect(await visible(ctx.dir)).toEqual({});
    expect(await readlink(join(ctx.dir, '..data'))).toMatch(TS_DIR);
  });

  it('a listed key missing from the ConfigMap is an error naming it', async () => {
    objects.configMaps.set('shop/c', { a: b('1') });
    const volume: Volume = { name: 'c', configMap: { name: 'c', items: [{ key: 'nope', path: 'n' }] } };
    await expect(new ConfigMapVolume().setUp(context(makePod([volume]), volume))).rejects.toThrow(
      'configMap.items[0].key: configmap "c" references non-existent config key: nope',
    );
  });

  it('a transport failure is a VolumeError saying what was read', async () => {
    objects.failWith = new Error('connect ECONNREFUSED 127.0.0.1:6443');
    const volume: Volume = { name: 'c', configMap: { name: 'c' } };
    await expect(new ConfigMapVolume().setUp(context(makePod([volume]), volume))).rejects.toThrow(
      'failed to get configmap "c": connect ECONNREFUSED 127.0.0.1:6443',
    );
  });

  it('follows updates of the ConfigMap, writes nothing when it did not change, and tears down', async () => {
    objects.configMaps.set('shop/c', { a: b('1'), gone: b('x') });
    const volume: Volume = { name: 'c', configMap: { name: 'c' } };
    const kind = new ConfigMapVolume();
    const { ctx } = await setUp(kind, makePod([volume]), volume);
    const first = await readlink(join(ctx.dir, '..data'));

    await kind.setUp(ctx);
    expect(await readlink(join(ctx.dir, '..data'))).toBe(first);

    objects.configMaps.set('shop/c', { a: b('2'), added: b('new') });
    await kind.setUp(ctx);
    expect(await readlink(join(ctx.dir, '..data'))).not.toBe(first);
    expect(await visible(ctx.dir)).toEqual({ a: '2', added: 'new' });
    expect((await readdir(ctx.dir)).filter((n) => TS_DIR.test(n))).toHaveLength(1);

    await kind.tearDown(ctx.dir);
    await expect(lstat(ctx.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('SecretVolume', () => {
  it('mounts a tmpfs (mode 0755) before writing the keys', async () => {
    objects.secrets.set('shop/db', { username: b('admin'), password: b('s3cr3t') });
    const volume: Volume = { name: 'creds', secret: { secretName: 'db', defaultMode: 0o400 } };
    const { ctx, mounted } = await setUp(new SecretVolume(), makePod([volume]), volume);
    expect(mounted).toEqual({ hostPath: ctx.dir, readOnly: true, dynamic: true });
    expect(mounts.calls).toEqual([{ dir: ctx.dir, options: { mode: 0o755 } }]);
    expect(await visible(ctx.dir)).toEqual({ password: 's3cr3t', username: 'admin' });
    expect(await modeOf(join(ctx.dir, 'password'))).toBe('400');
  });

  it('a missing secret mounts and creates nothing, and its message carries no content', async () => {
    const volume: Volume = { name: 'creds', secret: { secretName: 'db' } };
    await expect(new SecretVolume().setUp(context(makePod([volume]), volume))).rejects.toThrow('secret "db" not found');
    expect(mounts.calls).toEqual([]);
    await expect(lstat(join(root, 'creds'))).rejects.toMatchObject({ code: 'ENOENT' });

    objects.secrets.set('shop/db', { password: b('hunter2') });
    const badKey: Volume = { name: 'creds', secret: { secretName: 'db', items: [{ key: 'token', path: 't' }] } };
    const err = await new SecretVolume().setUp(context(makePod([badKey]), badKey)).then(
      () => new Error('set up unexpectedly'),
      (e: unknown) => e as Error,
    );
    expect(err.message).toBe('secret.items[0].key: secret "db" references non-existent secret key: token');
    expect(err.message).not.toContain('hunter2');
  });

  it('an item path escaping the volume is refused before anything is created or mounted', async () => {
    objects.secrets.set('shop/db', { password: b('pw') });
    const volume: Volume = { name: 'creds', secret: { secretName: 'db', items: [{ key: 'password', path: '../../etc/shadow' }] } };
    await expect(new SecretVolume().setUp(context(makePod([volume]), volume))).rejects.toThrow(
      `secret.items[0].path "../../etc/shadow": invalid path: must not contain '..'`,
    );
    expect(mounts.calls).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });

  it('an optional missing secret is an empty volume', async () => {
    const volume: Volume = { name: 'creds', secret: { secretName: 'db', optional: true } };
    const { ctx } = await setUp(new SecretVolume(), makePod([volume]), volume);
    expect(await visible(ctx.dir)).toEqual({});
  });
});

describe('DownwardAPIVolume', () => {
  it('writes labels as kubelet formats them and refreshes them when they change', async () => {
    const volume: Volume = {
      name: 'podinfo',
      downwardAPI: {
        defaultMode: 0o444,
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' }, mode: 0o400 },
          { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
          { path: 'mem', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' } },
        ],
      },
    };
    const pod = makePod([volume]);
    const kind = new DownwardAPIVolume();
    const { ctx, mounted } = await setUp(kind, pod, volume);
    expect(mounted).toEqual({ hostPath: ctx.dir, readOnly: true, dynamic: true });
    expect(await visible(ctx.dir)).toEqual({
      annotations: 'note="a \\"b\\""',
      labels: 'app="web"\ntier="front"',
      mem: '128',
      name: 'web',
    });
    expect(await modeOf(join(ctx.dir, 'labels'))).toBe('444');
    expect(await modeOf(join(ctx.dir, 'annotations'))).toBe('400');

    pod.metadata.labels = { app: 'web', tier: 'back', version: 'v2' };
    await kind.setUp({ ...ctx, pod });
    expect(await readFile(join(ctx.dir, 'labels'), 'utf8')).toBe('app="web"\ntier="back"\nversion="v2"');
  });

  it('refuses an unsupported field with a message naming the item', async () => {
    const volume: Volume = { name: 'podinfo', downwardAPI: { items: [{ path: 'ip', fieldRef: { fieldPath: 'status.podIP' } }] } };
    await expect(new DownwardAPIVolume().setUp(context(makePod([volume]), volume))).rejects.toThrow(
      'downwardAPI.items[0].fieldRef.fieldPath: unsupported fieldPath "status.podIP"',
    );
  });
});

describe('ProjectedVolume', () => {
  const projected = (sources: unknown[], defaultMode?: number): Volume => ({
    name: 'all-in-one',
    projected: { sources, ...(defaultMode !== undefined ? { defaultMode } : {}) },
  });

  it('merges configMap, secret, downwardAPI and serviceAccountToken sources on a tmpfs', async () => {
    objects.configMaps.set('shop/cfg', { 'app.conf': b('port=80'), shared: b('from configmap') });
    objects.secrets.set('shop/db', { password: b('pw'), shared: b('from secret') });
    const volume = projected(
      [
        { configMap: { name: 'cfg' } },
        {
          secret: {
            name: 'db',
            items: [
              { key: 'password', path: 'db/password', mode: 0o400 },
              { key: 'shared', path: 'shared' },
            ],
          },
        },
        { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
        { serviceAccountToken: { path: 'token', audience: 'vault', expirationSeconds: 7200 } },
      ],
      0o440,
    );
    const { ctx, mounted } = await setUp(new ProjectedVolume(), makePod([volume]), volume);
    expect(mounted).toEqual({ hostPath: ctx.dir, readOnly: true, dynamic: true });
    expect(mounts.calls).toEqual([{ dir: ctx.dir, options: { mode: 0o755 } }]);
    expect(await visible(ctx.dir)).toEqual({
      'app.conf': 'port=80',
      db: '<dir>',
      labels: 'app="web"\ntier="front"',
      shared: 'from secret',
      token: 'token-1',
    });
    expect(await readFile(join(ctx.dir, 'db/password'), 'utf8')).toBe('pw');
    expect(await modeOf(join(ctx.dir, 'db/password'))).toBe('400');
    expect(await modeOf(join(ctx.dir, 'app.conf'))).toBe('440');
    expect(await modeOf(join(ctx.dir, 'token'))).toBe('440');
    expect(objects.tokens).toEqual([{ audience: 'vault', expirationSeconds: 7200 }]);
  });

  it('the later source wins a path, whichever kinds they are', async () => {
    objects.configMaps.set('shop/cfg', { name: b('from configmap') });
    const volume = projected([{ downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } }, { configMap: { name: 'cfg' } }]);
    const { ctx } = await setUp(new ProjectedVolume(), makePod([volume]), volume);
    expect(await visible(ctx.dir)).toEqual({ name: 'from configmap' });
    expect(mounts.calls).toEqual([]); // no secret, no token: on disk
  });

  it('reuses a token until 80% of its lifetime has passed, writing nothing in between', async () => {
    const clock = new FakeClock();
    const kind = new ProjectedVolume({ clock });
    const volume = projected([{ serviceAccountToken: { path: 'token' } }]);
    const { ctx } = await setUp(kind, makePod([volume]), volume);
    const first = await readlink(join(ctx.dir, '..data'));
    expect(objects.tokens).toEqual([{ audience: undefined, expirationSeconds: 3600 }]);

    clock.advance(2879_000); // just under 80% of an hour
    await kind.setUp(ctx);
    expect(objects.tokens).toHaveLength(1);
    expect(await readlink(join(ctx.dir, '..data'))).toBe(first);

    clock.advance(2_000);
    await kind.setUp(ctx);
    expect(objects.tokens).toHaveLength(2);
    expect(await readFile(join(ctx.dir, 'token'), 'utf8')).toBe('token-2');
  });

  it('keeps a still-valid token when a refresh fails, and fails once it has expired', async () => {
    const clock = new FakeClock();
    const kind = new ProjectedVolume({ clock });
    const volume = projected([{ serviceAccountToken: { path: 'token', expirationSeconds: 1000 } }]);
    const { ctx } = await setUp(kind, makePod([volume]), volume);
    objects.serviceAccountToken = async () => {
      throw new Error('apiserver unavailable');
    };
    clock.advance(900_000);
    await kind.setUp(ctx);
    expect(await readFile(join(ctx.dir, 'token'), 'utf8')).toBe('token-1');
    clock.advance(200_000);
    await expect(kind.setUp(ctx)).rejects.toThrow('requesting a service account token failed: apiserver unavailable');
  });

  it('a token without TokenRequest support is a VolumeError saying so', async () => {
    objects = new FakeObjects(false);
    const volume = projected([{ serviceAccountToken: { path: 'token' } }]);
    const err = await new ProjectedVolume().setUp(context(makePod([volume]), volume)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VolumeError);
    expect((err as Error).message).toContain('the server cannot issue service account tokens (TokenRequest) for pod shop/web');

    objects = new FakeObjects(true);
    objects.serviceAccountToken = async () => undefined;
    await expect(new ProjectedVolume().setUp(context(makePod([volume]), volume))).rejects.toThrow('cannot issue service account tokens');
  });

  it('reports every failing source at once; optional missing sources are empty', async () => {
    const volume = projected([
      { configMap: { name: 'absent' } },
      { secret: { name: 'absent-too', optional: true } },
      { secret: { name: 'gone' } },
      { clusterTrustBundle: { name: 'x', path: 'ca.crt' } },
    ]);
    const err = await new ProjectedVolume().setUp(context(makePod([volume]), volume)).then(
      () => new Error('set up unexpectedly'),
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(VolumeError);
    expect(err.message).toBe(
      'configmap "absent" not found; secret "gone" not found; ' +
        'projected.sources[3]: projected source clusterTrustBundle is not supported by this node ' +
        '(configMap, secret, downwardAPI, serviceAccountToken)',
    );
    expect(mounts.calls).toEqual([]);
  });

  it('with an fsGroup a token is 0600 plus group read (0640), owned by the group', async () => {
    const volume = projected([{ serviceAccountToken: { path: 'token' } }]);
    const { ctx } = await setUp(new ProjectedVolume(), makePod([volume], 2000), volume);
    const st = await stat(join(ctx.dir, 'token'));
    expect((st.mode & 0o7777).toString(8)).toBe('640');
    expect(st.gid).toBe(2000);
  });
});
