import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../../agent/config/config.js';

const dir = mkdtempSync(join(tmpdir(), 'nodelet-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(text: string): string {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

describe('execHandler', () => {
  it('takes auto, native and docker, auto by default', () => {
    expect(resolveConfig({}).execHandler).toBe('auto');
    for (const handler of ['auto', 'native', 'docker']) {
      expect(resolveConfig({ config: configFile(`execHandler: ${handler}\n`) }).execHandler).toBe(handler);
    }
  });

  it('reads the old name nsenter as native, with one deprecation warning', () => {
    const warnings: string[] = [];
    const config = resolveConfig({ config: configFile('execHandler: nsenter\n') }, (message) => warnings.push(message));
    expect(config.execHandler).toBe('native');
    expect(warnings).toEqual(['execHandler "nsenter" is deprecated and means "native": write execHandler: native']);
  });

  it('refuses anything else, naming the values it takes', () => {
    expect(() => resolveConfig({ config: configFile('execHandler: runc\n') })).toThrow(ConfigError);
    expect(() => resolveConfig({ config: configFile('execHandler: runc\n') })).toThrow(/must be auto, native or docker/);
  });
});
