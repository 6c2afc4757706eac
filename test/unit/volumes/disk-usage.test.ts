// diskUsageBytes on plain tmp dirs: allocated blocks, hard links once, symlinks not followed.
import { randomBytes } from 'node:crypto';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diskUsageBytes } from '../../../agent/volumes/disk-usage.js';

const MiB = 1024 * 1024;

describe('diskUsageBytes', () => {
  let base: string;
  let volume: string;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'nodelet-du-'));
    volume = join(base, 'volume');
    await mkdir(volume);
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('is 0 for a missing directory', async () => {
    expect(await diskUsageBytes(join(base, 'missing'))).toBe(0);
  });

  it('grows by at least 1 MiB after writing 1 MiB', async () => {
    const before = await diskUsageBytes(volume);
    await mkdir(join(volume, 'a/b'), { recursive: true });
    await writeFile(join(volume, 'a/b/data'), randomBytes(MiB));
    const after = await diskUsageBytes(volume);
    expect(after - before).toBeGreaterThanOrEqual(MiB);
    expect(after - before).toBeLessThan(2 * MiB);
  });

  it('counts a hard-linked file once', async () => {
    await writeFile(join(volume, 'data'), randomBytes(MiB));
    const once = await diskUsageBytes(volume);
    await link(join(volume, 'data'), join(volume, 'again'));
    expect(await diskUsageBytes(volume)).toBe(once);
  });

  it('does not follow symlinks to big files or directories outside', async () => {
    const outside = join(base, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'big'), randomBytes(4 * MiB));
    const before = await diskUsageBytes(volume);
    await symlink(join(outside, 'big'), join(volume, 'file-link'));
    await symlink(outside, join(volume, 'dir-link'));
    expect(await diskUsageBytes(volume)).toBeLessThan(before + 64 * 1024);
  });

  it('walks many directories with bounded concurrency to the same total', async () => {
    for (let i = 0; i < 40; i++) {
      await mkdir(join(volume, `d${i}`, 'inner'), { recursive: true });
      await writeFile(join(volume, `d${i}`, 'inner', 'f'), randomBytes(8192));
    }
    const total = await diskUsageBytes(volume);
    expect(total).toBeGreaterThanOrEqual(40 * 8192);
    expect(await diskUsageBytes(volume)).toBe(total);
  });
});
