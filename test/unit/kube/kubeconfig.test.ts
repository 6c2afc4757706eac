import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../agent/kube/client.js';
import { CredentialError, KubeconfigError } from '../../../agent/kube/errors.js';
import { loadKubeconfig } from '../../../agent/kube/kubeconfig.js';
import { FakeClock } from '../../../agent/api/clock.js';
import { makeTlsFixtures, type TlsFixtures } from './tls-fixtures.js';

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');

let dir: string;
let tls: TlsFixtures;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nodelet-kubeconfig-'));
  await mkdir(join(dir, 'pki'));
  await mkdir(join(dir, 'plugins'));
  tls = makeTlsFixtures(join(dir, 'pki'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Doc {
  cluster?: Record<string, unknown>;
  user?: Record<string, unknown>;
  context?: Record<string, unknown>;
  currentContext?: string | null;
}

/** Writes a one-context kubeconfig (cluster c1, user u1, context ctx1) and returns its path. */
async function writeKubeconfig(name: string, doc: Doc, extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, '..'), { recursive: true });
  const body = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c1', cluster: doc.cluster ?? { server: 'https://127.0.0.1:6443' } }],
    users: [{ name: 'u1', user: doc.user ?? {} }],
    contexts: [{ name: 'ctx1', context: doc.context ?? { cluster: 'c1', user: 'u1' } }],
    ...(doc.currentContext === null ? {} : { 'current-context': doc.currentContext ?? 'ctx1' }),
    ...extra,
  };
  await writeFile(path, stringify(body));
  return path;
}

async function loadError(path: string, options = {}): Promise<KubeconfigError> {
  const err = await loadKubeconfig(path, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubeconfigError);
  return err as KubeconfigError;
}

describe('loadKubeconfig: inline data', () => {
  it('reads server, CA data, token and namespace of the current context', async () => {
    const path = await writeKubeconfig('inline.yaml', {
      cluster: { server: 'https://10.0.0.1:6443/', 'certificate-authority-data': b64(tls.ca), 'tls-server-name': 'kubernetes' },
      user: { token: 'secret-token' },
      context: { cluster: 'c1', user: 'u1', namespace: 'kube-system' },
    });
    const kc = await loadKubeconfig(path);
    expect(kc.path).toBe(path);
    expect(kc.context).toBe('ctx1');
    expect(kc.namespace).toBe('kube-system');
    expect(kc.user).toBe('u1');
    expect(kc.cluster.server).toBe('https://10.0.0.1:6443');
    expect(kc.cluster.ca?.equals(tls.ca)).toBe(true);
    expect(kc.cluster.tlsServerName).toBe('kubernetes');
    expect(kc.cluster.insecureSkipTlsVerify).toBe(false);
    expect(await kc.credentials.get()).toEqual({ token: 'secret-token' });
  });

  it('reads client certificate and key data', async () => {
    const path = await writeKubeconfig('cert-inline.yaml', {
      user: { 'client-certificate-data': b64(tls.clientCert), 'client-key-data': b64(tls.clientKey) },
    });
    const creds = await (await loadKubeconfig(path)).credentials.get();
    expect(creds.cert?.equals(tls.clientCert)).toBe(true);
    expect(creds.key?.equals(tls.clientKey)).toBe(true);
    expect(creds.token).toBeUndefined();
  });

  it('uses the requested context instead of current-context', async () => {
    const path = await writeKubeconfig(
      'two-contexts.yaml',
      { user: { token: 't1' } },
      {
        clusters: [
          { name: 'c1', cluster: { server: 'https://one:6443' } },
          { name: 'c2', cluster: { server: 'https://two:6443', 'insecure-skip-tls-verify': true } },
        ],
        users: [
          { name: 'u1', user: { token: 't1' } },
          { name: 'u2', user: { username: 'admin', password: 'pw' } },
        ],
        contexts: [
          { name: 'ctx1', context: { cluster: 'c1', user: 'u1' } },
          { name: 'ctx2', context: { cluster: 'c2', user: 'u2' } },
        ],
      },
    );
    const kc = await loadKubeconfig(path, { context: 'ctx2' });
    expect(kc.context).toBe('ctx2');
    expect(kc.cluster).toEqual({ server: 'https://two:6443', insecureSkipTlsVerify: true });
    expect(await kc.credentials.get()).toEqual({ username: 'admin', password: 'pw' });
  });

  it('reads YAML 1.1 booleans the way client-go does', async () => {
    const path = join(dir, 'yaml11.yaml');
    await writeFile(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: ctx1',
        'clusters:',
        '- name: c1',
        '  cluster:',
        '    server: https://h:6443',
        '    insecure-skip-tls-verify: yes',
        'users:',
        '- name: u1',
        '  user: {}',
        'contexts:',
        '- name: ctx1',
        '  context: {cluster: c1, user: u1}',
        '',
      ].join('\n'),
    );
    expect((await loadKubeconfig(path)).cluster.insecureSkipTlsVerify).toBe(true);
  });
});

describe('loadKubeconfig: files', () => {
  it('resolves certificate-authority and client files relative to the kubeconfig directory', async () => {
    const sub = join(dir, 'relative');
    await mkdir(join(sub, 'certs'), { recursive: true });
    await writeFile(join(sub, 'certs', 'ca.pem'), tls.ca);
    await writeFile(join(sub, 'certs', 'client.pem'), tls.clientCert);
    await writeFile(join(sub, 'certs', 'client-key.pem'), tls.clientKey);
    const path = await writeKubeconfig('relative/kubeconfig', {
      cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority': 'certs/ca.pem' },
      user: { 'client-certificate': 'certs/client.pem', 'client-key': './certs/client-key.pem' },
    });
    const kc = await loadKubeconfig(path);
    expect(kc.cluster.ca?.equals(tls.ca)).toBe(true);
    const creds = await kc.credentials.get();
    expect(creds.cert?.equals(tls.clientCert)).toBe(true);
    expect(creds.key?.equals(tls.clientKey)).toBe(true);
  });

  it('re-reads a token file when it changes and after a 401', async () => {
    const tokenPath = join(dir, 'token-dir', 'token');
    await mkdir(join(dir, 'token-dir'), { recursive: true });
    await writeFile(tokenPath, 'first-token\n');
    const path = await writeKubeconfig('token-dir/kubeconfig', { user: { tokenFile: 'token', token: 'inline-token' } });
    const kc = await loadKubeconfig(path);
    const first = await kc.credentials.get();
    expect(first.token).toBe('first-token');
    expect(await kc.credentials.get()).toBe(first);

    await writeFile(tokenPath, 'second-token-longer\n');
    const second = await kc.credentials.get();
    expect(second.token).toBe('second-token-longer');
    expect(kc.credentials.invalidate(second)).toBe(true);
    expect((await kc.credentials.get()).token).toBe('second-token-longer');
  });

  it('keeps the last token while the file is briefly missing mid-rotation', async () => {
    const tokenPath = join(dir, 'rotating-token');
    await writeFile(tokenPath, 'kept-token');
    const path = await writeKubeconfig('rotating.yaml', { user: { tokenFile: tokenPath } });
    const kc = await loadKubeconfig(path);
    expect((await kc.credentials.get()).token).toBe('kept-token');
    await rm(tokenPath);
    expect((await kc.credentials.get()).token).toBe('kept-token');
  });

  it('names the field and the file when a referenced file cannot be read', async () => {
    const path = await writeKubeconfig('missing-ca.yaml', { cluster: { server: 'https://h:6443', 'certificate-authority': 'nope/ca.pem' } });
    const err = await loadError(path);
    expect(err.message).toContain(path);
    expect(err.message).toContain('clusters["c1"].cluster.certificate-authority');
    expect(err.message).toContain(join(dir, 'nope/ca.pem'));
  });

  it('fails at load when the token file is missing', async () => {
    const path = await writeKubeconfig('missing-token.yaml', { user: { tokenFile: 'no-such-token' } });
    const err = await loadError(path);
    expect(err.message).toContain('users["u1"].user.tokenFile');
  });
});

describe('loadKubeconfig: exec plugins', () => {
  async function plugin(name: string, body: string): Promise<string> {
    const path = join(dir, 'plugins', name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  }

  it('runs the plugin with args and env, caches the token until it expires, and re-runs after a 401', async () => {
    const counter = join(dir, 'plugins', 'runs');
    const infoFile = join(dir, 'plugins', 'exec-info');
    await writeFile(counter, '');
    await plugin(
      'token-plugin',
      [
        `echo run >> ${counter}`,
        `printf '%s' "$KUBERNETES_EXEC_INFO" > ${infoFile}`,
        'n=$(wc -l < ' + counter + ' | tr -d " ")',
        'if [ "$n" = 1 ]; then expiry=2026-01-01T00:10:00Z; else expiry=2026-01-01T01:00:00Z; fi',
        'cat <<EOF',
        '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",',
        ' "status":{"token":"tok-$1-$PLUGIN_REGION-$n","expirationTimestamp":"$expiry"}}',
        'EOF',
      ].join('\n'),
    );
    // A command with a path separator is relative to the kubeconfig's directory.
    const path = await writeKubeconfig('exec.yaml', {
      cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64(tls.ca) },
      user: {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: './plugins/token-plugin',
          args: ['cluster-a'],
          env: [{ name: 'PLUGIN_REGION', value: 'eu' }],
          interactiveMode: 'Never',
          provideClusterInfo: true,
        },
      },
    });
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const kc = await loadKubeconfig(path, { clock });

    const first = await kc.credentials.get();
    expect(first.token).toBe('tok-cluster-a-eu-1');
    const info = JSON.parse(await readFile(infoFile, 'utf8')) as {
      kind: string;
      spec: { interactive: boolean; cluster: { server: string; 'certificate-authority-data': string } };
    };
    expect(info.kind).toBe('ExecCredential');
    expect(info.spec.interactive).toBe(false);
    expect(info.spec.cluster.server).toBe('https://127.0.0.1:6443');
    expect(info.spec.cluster['certificate-authority-data']).toBe(b64(tls.ca));

    clock.advance(5 * 60_000);
    expect((await kc.credentials.get()).token).toBe('tok-cluster-a-eu-1');

    clock.advance(5 * 60_000);
    const afterExpiry = await kc.credentials.get();
    expect(afterExpiry.token).toBe('tok-cluster-a-eu-2');

    expect(kc.credentials.invalidate(afterExpiry)).toBe(true);
    expect((await kc.credentials.get()).token).toBe('tok-cluster-a-eu-3');
    // Refusing credentials that are no longer current does not run the plugin again.
    kc.credentials.invalidate(afterExpiry);
    expect((await kc.credentials.get()).token).toBe('tok-cluster-a-eu-3');
    expect((await readFile(counter, 'utf8')).trim().split('\n')).toHaveLength(3);
  });

  it('runs one plugin for concurrent requests', async () => {
    const counter = join(dir, 'plugins', 'concurrent-runs');
    await writeFile(counter, '');
    const cmd = await plugin(
      'slow-plugin',
      [
        `echo run >> ${counter}`,
        'sleep 0.2',
        'echo \'{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"shared"}}\'',
      ].join('\n'),
    );
    const path = await writeKubeconfig('exec-concurrent.yaml', { user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: cmd } } });
    const kc = await loadKubeconfig(path);
    const all = await Promise.all([kc.credentials.get(), kc.credentials.get(), kc.credentials.get()]);
    expect(all.map((c) => c.token)).toEqual(['shared', 'shared', 'shared']);
    expect((await readFile(counter, 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('presents a client certificate returned by the plugin', async () => {
    const certJson = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { clientCertificateData: tls.clientCert.toString('utf8'), clientKeyData: tls.clientKey.toString('utf8') },
    });
    await writeFile(join(dir, 'plugins', 'cert.json'), certJson);
    const cmd = await plugin('cert-plugin', `cat ${join(dir, 'plugins', 'cert.json')}`);
    const path = await writeKubeconfig('exec-cert.yaml', { user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: cmd } } });
    const creds = await (await loadKubeconfig(path)).credentials.get();
    expect(creds.cert?.equals(tls.clientCert)).toBe(true);
    expect(creds.key?.equals(tls.clientKey)).toBe(true);
  });

  it('reports a failing plugin with its exit code and last stderr line, never its stdout', async () => {
    const cmd = await plugin('failing-plugin', 'echo \'{"status":{"token":"leaked"}}\'\necho "login required" >&2\nexit 3');
    const path = await writeKubeconfig('exec-fail.yaml', { user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: cmd } } });
    const kc = await loadKubeconfig(path);
    const err = await kc.credentials.get().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(CredentialError);
    expect(err?.message).toContain('users["u1"].user.exec');
    expect(err?.message).toContain('code 3');
    expect(err?.message).toContain('login required');
    expect(err?.message).not.toContain('leaked');
  });

  it('refuses a plugin answer with another apiVersion, without echoing the token', async () => {
    const cmd = await plugin(
      'wrong-version',
      'echo \'{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"sekret"}}\'',
    );
    const path = await writeKubeconfig('exec-version.yaml', { user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: cmd } } });
    const err = await (await loadKubeconfig(path)).credentials.get().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('expects client.authentication.k8s.io/v1');
    expect(err?.message).not.toContain('sekret');
  });

  it('shows the install hint when the command does not exist', async () => {
    const path = await writeKubeconfig('exec-missing.yaml', {
      user: {
        exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'nodelet-no-such-plugin', installHint: 'install it with: apt install the-plugin' },
      },
    });
    const err = await (await loadKubeconfig(path)).credentials.get().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('install it with: apt install the-plugin');
  });
});

describe('loadKubeconfig: invalid files name the file and the field', () => {
  const cases: Array<[string, Doc, string]> = [
    ['no current context', { currentContext: null }, 'current-context is not set'],
    ['unknown current context', { currentContext: 'other' }, 'current-context names "other", which is not in contexts'],
    ['context without cluster', { context: { user: 'u1' } }, 'contexts["ctx1"].context.cluster is missing'],
    ['context naming an unknown user', { context: { cluster: 'c1', user: 'nobody' } }, 'contexts["ctx1"].context.user names "nobody", which is not in users'],
    ['cluster without server', { cluster: { 'insecure-skip-tls-verify': true } }, 'clusters["c1"].cluster.server is missing'],
    ['server that is not a URL', { cluster: { server: 'not a url' } }, 'clusters["c1"].cluster.server "not a url" is not a URL'],
    [
      'CA both inline and as a file',
      { cluster: { server: 'https://h', 'certificate-authority': 'ca.pem', 'certificate-authority-data': b64('x') } },
      'sets both certificate-authority and certificate-authority-data',
    ],
    [
      'insecure together with a CA',
      { cluster: { server: 'https://h', 'insecure-skip-tls-verify': true, 'certificate-authority-data': b64('x') } },
      'insecure-skip-tls-verify together with a certificate authority',
    ],
    [
      'invalid base64',
      { user: { 'client-certificate-data': 'not base64!!', 'client-key-data': b64('k') } },
      'users["u1"].user.client-certificate-data is not valid base64',
    ],
    ['certificate without key', { user: { 'client-certificate-data': b64('c') } }, 'users["u1"].user has a client certificate but no client-key'],
    ['token and basic auth', { user: { token: 't', username: 'u', password: 'p' } }, 'only one authentication method is allowed'],
    ['exec without apiVersion', { user: { exec: { command: 'x' } } }, 'users["u1"].user.exec.apiVersion is missing'],
    ['exec with an unknown apiVersion', { user: { exec: { command: 'x', apiVersion: 'client.authentication.k8s.io/v1alpha1' } } }, 'is not supported'],
    [
      'exec env without name',
      { user: { exec: { command: 'x', apiVersion: 'client.authentication.k8s.io/v1', env: [{ value: 'v' }] } } },
      'users["u1"].user.exec.env[0].name is missing',
    ],
    ['non-boolean insecure flag', { cluster: { server: 'https://h', 'insecure-skip-tls-verify': 'maybe' } }, 'insecure-skip-tls-verify must be true or false'],
  ];
  for (const [name, doc, expected] of cases) {
    it(name, async () => {
      const path = await writeKubeconfig(`invalid-${name.replace(/\W+/g, '-')}.yaml`, doc);
      const err = await loadError(path);
      expect(err.message).toContain(`kubeconfig ${path}:`);
      expect(err.message).toContain(expected);
    });
  }

  it('a requested context that does not exist', async () => {
    const path = await writeKubeconfig('ctx-missing.yaml', {});
    const err = await loadError(path, { context: 'elsewhere' });
    expect(err.message).toContain('context "elsewhere" (requested) names "elsewhere", which is not in contexts');
  });

  it('a file that does not exist', async () => {
    const err = await loadError(join(dir, 'absent.yaml'));
    expect(err.message).toContain('absent.yaml: cannot read');
  });

  it('never puts the token in an error', async () => {
    const path = await writeKubeconfig('token-in-error.yaml', { cluster: { server: 'ftp://h' }, user: { token: 'very-secret' } });
    const err = await loadError(path);
    expect(err.message).toContain('must be an http or https URL');
    expect(err.message).not.toContain('very-secret');
  });
});

describe('KubeClient over TLS from a kubeconfig', () => {
  it('verifies the server with the CA and presents the client certificate', async () => {
    const server = createServer({ cert: tls.serverCert, key: tls.serverKey, ca: tls.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ cn: peer.subject?.CN, authorization: req.headers.authorization ?? null }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const path = await writeKubeconfig('tls.yaml', {
        cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority': tls.files.ca },
        user: { 'client-certificate': tls.files.clientCert, 'client-key': tls.files.clientKey },
      });
      const client = await KubeClient.fromKubeconfig(path);
      try {
        expect(await client.get('/api')).toEqual({ cn: 'system:node:node-1', authorization: null });
      } finally {
        client.close();
      }

      // Without the CA the server's certificate is not trusted.
      const untrusted = await writeKubeconfig('tls-untrusted.yaml', {
        cluster: { server: `https://127.0.0.1:${port}` },
        user: { 'client-certificate-data': b64(tls.clientCert), 'client-key-data': b64(tls.clientKey) },
      });
      const client2 = await KubeClient.fromKubeconfig(untrusted);
      try {
        await expect(client2.get('/api')).rejects.toThrow(/certificate/i);
      } finally {
        client2.close();
      }
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
