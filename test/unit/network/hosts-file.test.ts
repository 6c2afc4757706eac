import { describe, it, expect } from 'vitest';
import { buildHostNetworkHostsFile, buildHostsFile, truncateHostname } from '../../../agent/network/hosts-file.js';

const LOCAL = [
  '# Kubernetes-managed hosts file.',
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'fe00::0\tip6-mcastprefix',
  'fe00::1\tip6-allnodes',
  'fe00::2\tip6-allrouters',
].join('\n');

const base = { podIP: '10.88.0.5', hostname: 'web', namespace: 'shop', clusterDomain: 'cluster.local' };

describe('buildHostsFile', () => {
  it("writes the localhost entries and the pod's hostname", () => {
    expect(buildHostsFile(base)).toBe(`${LOCAL}\n10.88.0.5\tweb\n`);
  });

  it('names the pod by its FQDN when it has a subdomain', () => {
    expect(buildHostsFile({ ...base, subdomain: 'db' })).toBe(`${LOCAL}\n10.88.0.5\tweb.db.shop.svc.cluster.local\tweb\n`);
  });

  it('appends hostAliases, one line per hostname', () => {
    const text = buildHostsFile({
      ...base,
      hostAliases: [{ ip: '127.0.0.1', hostnames: ['foo.local', 'bar.local'] }, { ip: '10.1.2.3', hostnames: ['foo.remote'] }, { ip: '10.1.2.4' }],
    });
    expect(text).toBe(`${LOCAL}\n10.88.0.5\tweb\n\n# Entries added by HostAliases.\n` + '127.0.0.1\tfoo.local\n127.0.0.1\tbar.local\n10.1.2.3\tfoo.remote\n');
  });

  it('writes no alias section for an empty list', () => {
    expect(buildHostsFile({ ...base, hostAliases: [] })).not.toContain('HostAliases');
  });

  it('writes one pod line per pod IP', () => {
    const text = buildHostsFile({ ...base, podIPs: ['10.88.0.5', 'fd00::5'] });
    expect(text.endsWith('10.88.0.5\tweb\nfd00::5\tweb\n')).toBe(true);
  });

  it('truncates a hostname beyond 63 characters', () => {
    const text = buildHostsFile({ ...base, hostname: `${'a'.repeat(62)}-bbb` });
    expect(text).toContain(`10.88.0.5\t${'a'.repeat(62)}\n`);
  });
});

describe('truncateHostname', () => {
  it('leaves a short name alone', () => {
    expect(truncateHostname('web-0')).toBe('web-0');
    expect(truncateHostname('a'.repeat(63))).toBe('a'.repeat(63));
  });

  it('cuts to 63 characters and trims trailing - and .', () => {
    expect(truncateHostname('a'.repeat(70))).toBe('a'.repeat(63));
    expect(truncateHostname(`${'a'.repeat(60)}-.-x`)).toBe('a'.repeat(60));
  });
});

describe('buildHostNetworkHostsFile', () => {
  const node = '127.0.0.1 localhost\n192.168.1.10 node-1\n';

  it("copies the node's hosts file under its own header", () => {
    expect(buildHostNetworkHostsFile(node)).toBe(`# Kubernetes-managed hosts file (host network).\n${node}`);
  });

  it('appends hostAliases', () => {
    expect(buildHostNetworkHostsFile(node, [{ ip: '10.0.0.9', hostnames: ['api.internal'] }])).toBe(
      `# Kubernetes-managed hosts file (host network).\n${node}\n# Entries added by HostAliases.\n10.0.0.9\tapi.internal\n`,
    );
  });
});
