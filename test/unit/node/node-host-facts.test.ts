import { describe, expect, it } from 'vitest';
import { collectNodeFacts, goArchitecture, prettyName } from '../../../agent/node/node-facts.js';
import {
  InvalidNodeRegistrationError,
  defaultNodeRegistrationOptions,
  validateNodeRegistrationOptions,
} from '../../../agent/node/node-registration-options.js';
import { parseMemAvailable, parseTaskCount } from '../../../agent/node/node-usage.js';

describe('node facts', () => {
  it('reads PRETTY_NAME from os-release', () => {
    expect(prettyName('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(prettyName("PRETTY_NAME='Alpine Linux v3.20'")).toBe('Alpine Linux v3.20');
    expect(prettyName('NAME=x')).toBeUndefined();
  });

  it('spells architectures as Go does', () => {
    expect(goArchitecture('x64')).toBe('amd64');
    expect(goArchitecture('arm64')).toBe('arm64');
  });

  it('falls back to the machine ID when there is no system UUID', async () => {
    const files: Record<string, string> = {
      '/etc/machine-id': 'abc123\n',
      '/proc/sys/kernel/random/boot_id': 'boot-1\n',
      '/etc/os-release': 'PRETTY_NAME="Test OS 1"\n',
    };
    const readText = async (p: string) => {
      const v = files[p];
      if (v === undefined) throw new Error(`ENOENT ${p}`);
      return v;
    };
    const facts = await collectNodeFacts('/nonexistent/nodelet-root', { readText, systemUUID: async () => '-' });
    expect(facts).toMatchObject({ machineID: 'abc123', bootID: 'boot-1', systemUUID: 'abc123', osImage: 'Test OS 1', operatingSystem: 'linux' });
    expect(facts.cpuCount).toBeGreaterThan(0);
    expect(facts.memoryBytes).toBeGreaterThan(0);
    expect(facts.ephemeralStorageBytes).toBeGreaterThan(0);
    const withUUID = await collectNodeFacts('/', { readText, systemUUID: async () => 'ec2a-1' });
    expect(withUUID.systemUUID).toBe('ec2a-1');
  });
});

describe('node usage parsing', () => {
  it('reads MemAvailable in bytes', () => {
    expect(parseMemAvailable('MemTotal:       16318916 kB\nMemFree: 1 kB\nMemAvailable:    8000000 kB\n')).toBe(8_000_000 * 1024);
    expect(parseMemAvailable('MemTotal: 1 kB\n')).toBeUndefined();
  });

  it('reads the task count from loadavg', () => {
    expect(parseTaskCount('0.52 0.58 0.59 2/345 12345\n')).toBe(345);
    expect(parseTaskCount('garbage')).toBeUndefined();
  });
});

describe('validateNodeRegistrationOptions', () => {
  it('accepts the defaults', () => {
    expect(() => validateNodeRegistrationOptions(defaultNodeRegistrationOptions())).not.toThrow();
  });

  it('names the bad field', () => {
    const bad = { ...defaultNodeRegistrationOptions(), kubeReserved: { memory: '1Gb' } };
    expect(() => validateNodeRegistrationOptions(bad)).toThrow(InvalidNodeRegistrationError);
    expect(() => validateNodeRegistrationOptions(bad)).toThrow(/^kubeReserved\.memory: /);
    const taint = { ...defaultNodeRegistrationOptions(), registerWithTaints: [{ key: 'k', effect: 'Never' as never }] };
    expect(() => validateNodeRegistrationOptions(taint)).toThrow(/registerWithTaints\[0\]\.effect/);
    const unknown = { ...defaultNodeRegistrationOptions(), systemReserved: { gpus: '1' } };
    expect(() => validateNodeRegistrationOptions(unknown)).toThrow(/systemReserved\.gpus: only cpu, memory and ephemeral-storage/);
  });
});
