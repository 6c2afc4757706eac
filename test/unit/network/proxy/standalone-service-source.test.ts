import { mkdtemp, mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StandaloneServiceSource } from '../../../../agent/network/proxy/standalone-service-source.js';
import type { Service } from '../../../../agent/network/proxy/service-types.js';
import { FakeClock } from '../../../../agent/api/clock.js';

interface LogLine {
  level: number;
  msg: string;
  file?: string;
}
interface Update {
  services: Service[];
  origins: ReadonlyMap<string, string>;
}

function service(name: string, extra: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, ...extra }, spec: { selector: { app: name }, ports: [{ port: 80 }] } };
}

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };

describe('StandaloneServiceSource', () => {
  let dir: string;
  let logs: LogLine[];
  let updates: Update[];
  let source: StandaloneServiceSource | undefined;
  const logger = () =>
    pino(
      { level: 'info' },
      {
        write: (line: string) => {
          logs.push(JSON.parse(line) as LogLine);
        },
      },
    );
  const onUpdate = (services: Service[], origins: ReadonlyMap<string, string>) => {
    updates.push({ services, origins });
  };
  const names = () => (updates.at(-1)?.services ?? []).map((s) => `${s.metadata.namespace}/${s.metadata.name}`);
  const warnings = () => logs.filter((l) => l.level >= 40).map((l) => l.msg);

  async function write(file: string, content: string | Array<Record<string, unknown>>): Promise<void> {
    const text = typeof content === 'string' ? content : content.map((d) => stringify(d)).join('---\n');
    const tmp = join(dir, `.${file}.tmp`);
    await writeFile(tmp, text);
    await rename(tmp, join(dir, file));
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodelet-svc-'));
    logs = [];
    updates = [];
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('takes the v1 Services of a directory shared with pods, defaulting the namespace', async () => {
    await write('app.yaml', [pod, service('web'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }, service('api', { namespace: 'shop' })]);
    await write('more.json', JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [service('db')] }));
    await write('notes.txt', 'kind: Service');
    await write('.hidden.yaml', [service('hidden')]);
    source = new StandaloneServiceSource({ dir, logger: logger(), pollMs: 60_000 });
    await source.start(onUpdate);
    expect(updates).toHaveLength(1);
    expect(names()).toEqual(['default/db', 'default/web', 'shop/api']);
    expect(updates[0]?.origins.get('default/web')).toBe(join(dir, 'app.yaml#1'));
    expect(updates[0]?.origins.get('default/db')).toBe(join(dir, 'more.json#0'));
    expect(warnings()).toEqual([]);
  });

  it('reads YAML with 1.1 rules as Kubernetes does', async () => {
    await write('svc.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 0120}]\n');
    source = new StandaloneServiceSource({ dir, logger: logger(), pollMs: 60_000 });
    await source.start(onUpdate);
    expect(updates[0]?.services[0]?.spec.ports?.[0]?.port).toBe(80);
  });

  it('ignores a file it cannot parse, logging it once with its name', async () => {
    await write('good.yaml', [service('web')]);
    await write('broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: [unclosed\n');
    source = new StandaloneServiceSource({ dir, logger: logger(), pollMs: 60_000 });
    await source.start(onUpdate);
    await source.poll();
    await source.poll();
    expect(names()).toEqual(['default/web']);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toContain(join(dir, 'broken.yaml'));

    // Fixed, it counts; broken again the same way, it is reported again.
    await write('broken.yaml', [service('api')]);
    await source.poll();
    expect(names()).toEqual(['default/api', 'default/web']);
    await write('broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: [unclosed\n');
    await source.poll();
    expect(names()).toEqual(['default/web']);
    expect(warnings()).toHaveLength(2);
  });

  it('delivers only changes: a new, edited or removed file', async () => {
    await write('a.yaml', [service('web')]);
    source = new StandaloneServiceSource({ dir, logger: logger(), pollMs: 60_000 });
    await source.start(onUpdate);
    await source.poll();
    expect(updates).toHaveLength(1);

    await write('b.yaml', [service('api')]);
    await source.poll();
    expect(names()).toEqual(['default/api', 'default/web']);

    await write('a.yaml', [{ ...service('web'), spec: { selector: { app: 'web' }, ports: [{ port: 8080 }] } }]);
    await source.poll();
    expect(updates.at(-1)?.services.find((s) => s.metadata.name === 'web')?.spec.ports?.[0]?.port).toBe(8080);

    await unlink(join(dir, 'b.yaml'));
    await source.poll();
    expect(names()).toEqual(['default/web']);
    expect(updates).toHaveLength(4);
  });

  it('keeps the first of two Services with the same name and reports the other once', async () => {
    await write('a.yaml', [service('web')]);
    await write('b.yaml', [service('web')]);
    source = new StandaloneServiceSource({ dir, logger: logger(), pollMs: 60_000 });
    await source.start(onUpdate);
    await source.poll();
    expect(names()).toEqual(['default/web']);
    expect(updates[0]?.origins.get('default/web')).toBe(join(dir, 'a.yaml#0'));
    expect(warnings()).toEqual([`${join(dir, 'b.yaml#0')}: Service "default/web" is also defined in ${join(dir, 'a.yaml#0')}; ignoring this one`]);
  });

  it('reports a Service of another apiVersion and skips it', async () => {
    await write('a.yaml', [{ ...service('web'), apiVersion: 'v2' }]);
    source = new StandaloneServiceSource({ dir, logger: logger(), pollMs: 60_000 });
    await source.start(onUpdate);
    expect(names()).toEqual([]);
    expect(warnings()[0]).toMatch(/Service with apiVersion "v2" is not supported/);
  });

  it('serves no Services while the directory is missing and picks them up once it exists', async () => {
    const missing = join(dir, 'later');
    source = new StandaloneServiceSource({ dir: missing, logger: logger(), pollMs: 60_000 });
    await source.start(onUpdate);
    expect(updates).toEqual([{ services: [], origins: new Map() }]);
    expect(warnings()[0]).toMatch(/does not exist/);
    await mkdir(missing);
    await writeFile(join(missing, 's.yaml'), stringify(service('web')));
    await source.poll();
    expect(names()).toEqual(['default/web']);
  });

  it('polls on its clock', async () => {
    const clock = new FakeClock();
    source = new StandaloneServiceSource({ dir, logger: logger(), clock });
    await source.start(onUpdate);
    expect(names()).toEqual([]);
    for (const [i, file] of ['a', 'b'].entries()) {
      await write(`${file}.yaml`, [service(file)]);
      clock.advance(2000);
      // No explicit read: the timer's read must deliver it.
      const deadline = Date.now() + 10_000;
      while (updates.length < i + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(updates).toHaveLength(i + 2);
    }
    expect(names()).toEqual(['default/a', 'default/b']);
  });
});
