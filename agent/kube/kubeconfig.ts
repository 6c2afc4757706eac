// kubeconfig loading, written here rather than taken from @kubernetes/client-node:
// nodelet needs one context of one file (server, TLS, token/tokenFile, client
// certificates, exec plugins), and that client library would drag a large
// dependency tree (its generated API, request stack, websockets, OpenID…) into a
// node agent that must stay small and auditable. The semantics follow client-go's
// clientcmd: relative paths are relative to the kubeconfig's directory, `*-data`
// fields are base64, a field given both inline and as a file is an error, a token
// file wins over an inline token, an exec command containing a path separator is
// resolved relative to the kubeconfig too. Secrets never appear in errors.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { parse } from 'yaml';
import type { Clock } from '../api/clock.js';
import { KubeconfigCredentials, type CredentialParts, type CredentialSource } from './credentials.js';
import { KubeconfigError } from './errors.js';
import { EXEC_API_VERSIONS, ExecCredentialPlugin, type ExecClusterInfo, type ExecInteractiveMode, type ExecPluginConfig } from './exec-credential.js';
import { ReloadingFile } from './reloading-file.js';

/** Where the apiserver is and how to trust it. */
export interface ClusterEndpoint {
  /** `https://host:port` with an optional path prefix. */
  server: string;
  /** PEM bundle of trusted CAs; absent means the system roots. */
  ca?: Buffer;
  insecureSkipTlsVerify: boolean;
  /** SNI and the name checked in the server certificate, when it differs from the host. */
  tlsServerName?: string;
}

export interface Kubeconfig {
  /** Absolute path of the file. */
  path: string;
  /** The context in use. */
  context: string;
  /** The context's namespace, if set. */
  namespace?: string;
  cluster: ClusterEndpoint;
  /** Name of the kubeconfig user in use. */
  user: string;
  credentials: CredentialSource;
}

export interface LoadKubeconfigOptions {
  /** Use this context instead of current-context. */
  context?: string;
  clock?: Clock;
  /** Kill exec plugins that run longer than this (default 60 s). */
  execTimeoutMs?: number;
  /** Base environment of exec plugins (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

type Dict = Record<string, unknown>;

/** `parent.key`, or `key` at the top level. */
function join(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

/** Field reader that names the kubeconfig and the field in every error. */
class Fields {
  constructor(readonly path: string) {}

  error(field: string, problem: string, cause?: unknown): KubeconfigError {
    return new KubeconfigError(this.path, `${field} ${problem}`, { cause });
  }

  dict(value: unknown, field: string): Dict | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) throw this.error(field, 'must be a mapping');
    return value as Dict;
  }

  list(value: unknown, field: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw this.error(field, 'must be a list');
    return value;
  }

  string(d: Dict | undefined, key: string, field: string): string | undefined {
    const v = d?.[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw this.error(join(field, key), 'must be a string');
    return v;
  }

  bool(d: Dict | undefined, key: string, field: string): boolean {
    const v = d?.[key];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') throw this.error(join(field, key), 'must be true or false');
    return v;
  }

  base64(d: Dict | undefined, key: string, field: string): Buffer | undefined {
    const text = this.string(d, key, field);
    if (text === undefined) return undefined;
    const compact = text.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) throw this.error(`${field}.${key}`, 'is not valid base64');
    const bytes = Buffer.from(compact, 'base64');
    if (bytes.length === 0) throw this.error(`${field}.${key}`, 'is empty');
    return bytes;
  }

  /** The `inner` mapping of the entry called `name` in a named list (clusters, users, contexts). */
  named(doc: Dict, listKey: string, inner: string, name: string, referrer: string): { value: Dict; field: string } {
    const entries = this.list(doc[listKey], listKey);
    for (const [i, raw] of entries.entries()) {
      const entry = this.dict(raw, `${listKey}[${i}]`);
      if (entry?.['name'] === name) {
        const field = `${listKey}[${JSON.stringify(name)}].${inner}`;
        return { value: this.dict(entry[inner], field) ?? {}, field };
      }
    }
    throw this.error(referrer, `names ${JSON.stringify(name)}, which is not in ${listKey}`);
  }
}

/** Reads a kubeconfig file and resolves the chosen context into an endpoint and credentials. */
export async function loadKubeconfig(path: string, options: LoadKubeconfigOptions = {}): Promise<Kubeconfig> {
  const absPath = resolve(path);
  let text: string;
  try {
    text = await readFile(absPath, 'utf8');
  } catch (err) {
    throw new KubeconfigError(absPath, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  return parseKubeconfig(text, absPath, options);
}

/** Like loadKubeconfig for text already read from `path` (files it names are read relative to it). */
export async function parseKubeconfig(text: string, path: string, options: LoadKubeconfigOptions = {}): Promise<Kubeconfig> {
  const f = new Fields(path);
  const baseDir = dirname(path);
  let doc: unknown;
  try {
    // sigs.k8s.io/yaml reads kubeconfigs with YAML 1.1 rules (`yes` is true).
    doc = parse(text, { version: '1.1' });
  } catch (err) {
    throw new KubeconfigError(path, `is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const root = f.dict(doc, 'the document');
  if (!root) throw new KubeconfigError(path, 'is empty');

  const contextName = options.context ?? f.string(root, 'current-context', '');
  if (!contextName) throw new KubeconfigError(path, 'current-context is not set and no context was given');
  const ctx = f.named(root, 'contexts', 'context', contextName, options.context ? `context ${JSON.stringify(contextName)} (requested)` : 'current-context');
  const clusterName = f.string(ctx.value, 'cluster', ctx.field);
  if (!clusterName) throw f.error(`${ctx.field}.cluster`, 'is missing');
  const userName = f.string(ctx.value, 'user', ctx.field);
  if (!userName) throw f.error(`${ctx.field}.user`, 'is missing');
  const namespace = f.string(ctx.value, 'namespace', ctx.field);

  const clusterEntry = f.named(root, 'clusters', 'cluster', clusterName, `${ctx.field}.cluster`);
  const { endpoint, execInfo } = await readCluster(f, clusterEntry.value, clusterEntry.field, baseDir);
  const userEntry = f.named(root, 'users', 'user', userName, `${ctx.field}.user`);
  const credentials = await readUser(f, userEntry.value, userEntry.field, baseDir, execInfo, options);

  return { path, context: contextName, ...(namespace ? { namespace } : {}), cluster: endpoint, user: userName, credentials };
}

function resolvePath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

async function readFileField(f: Fields, field: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw f.error(field, `names ${file}, which cannot be read: ${(err as Error).message}`, err);
  }
}

async function readCluster(f: Fields, c: Dict, field: string, baseDir: string): Promise<{ endpoint: ClusterEndpoint; execInfo: ExecClusterInfo }> {
  const server = f.string(c, 'server', field);
  if (!server) throw f.error(`${field}.server`, 'is missing');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw f.error(`${field}.server`, `${JSON.stringify(server)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw f.error(`${field}.server`, `${JSON.stringify(server)} must be an http or https URL`);

  const caFile = f.string(c, 'certificate-authority', field);
  const caData = f.base64(c, 'certificate-authority-data', field);
  if (caFile && caData) throw f.error(field, 'sets both certificate-authority and certificate-authority-data; keep one');
  const insecure = f.bool(c, 'insecure-skip-tls-verify', field);
  if (insecure && (caFile || caData)) throw f.error(field, 'sets insecure-skip-tls-verify together with a certificate authority; keep one');
  const ca = caData ?? (caFile ? await readFileField(f, `${field}.certificate-authority`, resolvePath(baseDir, caFile)) : undefined);
  const tlsServerName = f.string(c, 'tls-server-name', field);
  const proxyUrl = f.string(c, 'proxy-url', field);

  const endpoint: ClusterEndpoint = {
    server: server.replace(/\/+$/, ''),
    ...(ca ? { ca } : {}),
    insecureSkipTlsVerify: insecure,
    ...(tlsServerName ? { tlsServerName } : {}),
  };
  const execInfo: ExecClusterInfo = {
    server: endpoint.server,
    ...(tlsServerName ? { 'tls-server-name': tlsServerName } : {}),
    ...(insecure ? { 'insecure-skip-tls-verify': true } : {}),
    ...(ca ? { 'certificate-authority-data': ca.toString('base64') } : {}),
    ...(proxyUrl ? { 'proxy-url': proxyUrl } : {}),
    ...execExtension(f, c, field),
  };
  return { endpoint, execInfo };
}

/** The cluster's `client.authentication.k8s.io/exec` extension, passed to plugins as spec.cluster.config. */
function execExtension(f: Fields, c: Dict, field: string): { config?: unknown } {
  for (const [i, raw] of f.list(c['extensions'], `${field}.extensions`).entries()) {
    const ext = f.dict(raw, `${field}.extensions[${i}]`);
    if (ext?.['name'] === 'client.authentication.k8s.io/exec') return { config: ext['extension'] };
  }
  return {};
}

async function readUser(
  f: Fields,
  u: Dict,
  field: string,
  baseDir: string,
  execInfo: ExecClusterInfo,
  options: LoadKubeconfigOptions,
): Promise<CredentialSource> {
  const parts: CredentialParts = { what: `kubeconfig ${f.path}: ${field}` };

  const token = f.string(u, 'token', field);
  const tokenFile = f.string(u, 'tokenFile', field);
  const username = f.string(u, 'username', field);
  const password = f.string(u, 'password', field);
  if ((token || tokenFile) && (username || password))
    throw f.error(field, 'sets both a token and basic auth (username/password); only one authentication method is allowed');
  if (token) parts.token = token;
  if (tokenFile) {
    const file = resolvePath(baseDir, tokenFile);
    parts.tokenFile = new ReloadingFile(file, `kubeconfig ${f.path}: ${field}.tokenFile`);
    // Fail at startup, naming the field, rather than on the first request.
    try {
      await parts.tokenFile.read();
    } catch (err) {
      throw f.error(`${field}.tokenFile`, `names ${file}, which cannot be read or is empty`, err);
    }
  }
  if (username !== undefined || password !== undefined) {
    parts.username = username ?? '';
    parts.password = password ?? '';
  }

  const certFile = f.string(u, 'client-certificate', field);
  const certData = f.base64(u, 'client-certificate-data', field);
  const keyFile = f.string(u, 'client-key', field);
  const keyData = f.base64(u, 'client-key-data', field);
  if (certFile && certData) throw f.error(field, 'sets both client-certificate and client-certificate-data; keep one');
  if (keyFile && keyData) throw f.error(field, 'sets both client-key and client-key-data; keep one');
  const hasCert = Boolean(certFile || certData);
  const hasKey = Boolean(keyFile || keyData);
  if (hasCert && !hasKey) throw f.error(field, 'has a client certificate but no client-key or client-key-data');
  if (hasKey && !hasCert) throw f.error(field, 'has a client key but no client-certificate or client-certificate-data');
  if (certData) parts.cert = certData;
  if (keyData) parts.key = keyData;
  if (certFile) {
    const file = resolvePath(baseDir, certFile);
    await readFileField(f, `${field}.client-certificate`, file);
    parts.certFile = new ReloadingFile(file, `kubeconfig ${f.path}: ${field}.client-certificate`);
  }
  if (keyFile) {
    const file = resolvePath(baseDir, keyFile);
    await readFileField(f, `${field}.client-key`, file);
    parts.keyFile = new ReloadingFile(file, `kubeconfig ${f.path}: ${field}.client-key`);
  }

  if (u['auth-provider'] !== undefined && u['auth-provider'] !== null) {
    throw f.error(`${field}.auth-provider`, 'is not supported (client-go removed auth providers); use an exec plugin');
  }

  const exec = f.dict(u['exec'], `${field}.exec`);
  if (exec) {
    if (token || tokenFile || username || password) throw f.error(field, 'sets both exec and a token or basic auth; only one authentication method is allowed');
    parts.exec = new ExecCredentialPlugin(readExec(f, exec, `${field}.exec`, baseDir, execInfo), {
      what: `kubeconfig ${f.path}: ${field}.exec`,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.execTimeoutMs !== undefined ? { timeoutMs: options.execTimeoutMs } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
  }
  return new KubeconfigCredentials(parts);
}

function readExec(f: Fields, e: Dict, field: string, baseDir: string, execInfo: ExecClusterInfo): ExecPluginConfig {
  const apiVersion = f.string(e, 'apiVersion', field);
  if (!apiVersion) throw f.error(`${field}.apiVersion`, 'is missing');
  if (!(EXEC_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    throw f.error(`${field}.apiVersion`, `${JSON.stringify(apiVersion)} is not supported; use one of ${EXEC_API_VERSIONS.join(', ')}`);
  }
  let command = f.string(e, 'command', field);
  if (!command) throw f.error(`${field}.command`, 'is missing');
  // Like client-go: a bare name is looked up on PATH, a path is relative to the kubeconfig.
  if (command.includes(sep) && !isAbsolute(command)) command = resolve(baseDir, command);

  const args = f.list(e['args'], `${field}.args`).map((a, i) => {
    if (typeof a !== 'string') throw f.error(`${field}.args[${i}]`, 'must be a string');
    return a;
  });
  const env = f.list(e['env'], `${field}.env`).map((raw, i) => {
    const item = f.dict(raw, `${field}.env[${i}]`);
    const name = f.string(item, 'name', `${field}.env[${i}]`);
    if (!name) throw f.error(`${field}.env[${i}].name`, 'is missing');
    const value = item?.['value'];
    if (value !== undefined && value !== null && typeof value !== 'string') throw f.error(`${field}.env[${i}].value`, 'must be a string');
    return { name, value: (value as string | undefined) ?? '' };
  });
  const mode = f.string(e, 'interactiveMode', field);
  if (mode !== undefined && !['Never', 'IfAvailable', 'Always'].includes(mode)) {
    throw f.error(`${field}.interactiveMode`, `${JSON.stringify(mode)} must be Never, IfAvailable or Always`);
  }
  const installHint = f.string(e, 'installHint', field);
  return {
    command,
    args,
    env,
    apiVersion,
    ...(installHint ? { installHint } : {}),
    ...(mode ? { interactiveMode: mode as ExecInteractiveMode } : {}),
    ...(f.bool(e, 'provideClusterInfo', field) ? { cluster: execInfo } : {}),
  };
}
