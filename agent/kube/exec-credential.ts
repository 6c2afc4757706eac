// Exec credential plugins (client.authentication.k8s.io v1 and v1beta1): run the
// configured command, read an ExecCredential from its stdout, and cache the token
// or client certificate until its expirationTimestamp (or until the server says
// 401). One run at a time: concurrent requests share the pending result.
import { spawn } from 'node:child_process';
import { realClock, type Clock } from '../api/clock.js';
import { CredentialError } from './errors.js';

export const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;

export type ExecInteractiveMode = 'Never' | 'IfAvailable' | 'Always';

/** Cluster facts handed to the plugin when the kubeconfig asks for provideClusterInfo. */
export interface ExecClusterInfo {
  server: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  /** base64 PEM, as in the kubeconfig. */
  'certificate-authority-data'?: string;
  'proxy-url'?: string;
  config?: unknown;
}

export interface ExecPluginConfig {
  /** Absolute, or looked up on PATH. */
  command: string;
  args: string[];
  env: Array<{ name: string; value: string }>;
  apiVersion: string;
  installHint?: string;
  interactiveMode?: ExecInteractiveMode;
  /** Present when provideClusterInfo is true. */
  cluster?: ExecClusterInfo;
}

export interface ExecCredentialResult {
  token?: string;
  /** PEM. */
  cert?: Buffer;
  /** PEM. */
  key?: Buffer;
  /** Epoch ms; absent means valid until the server refuses it. */
  expiresAt?: number;
}

export interface ExecPluginOptions {
  /** Names the plugin in errors, e.g. `kubeconfig /etc/kc: users["node"].user.exec`. */
  what: string;
  clock?: Clock;
  /** A plugin that runs longer than this is killed. */
  timeoutMs?: number;
  /** Base environment of the plugin (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_BYTES = 1 << 20;

/** Parses the plugin's stdout; never echoes it, since it holds secrets. */
export function parseExecCredential(stdout: string, expectedApiVersion: string, what: string): ExecCredentialResult {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new CredentialError(`${what}: plugin output is not a JSON ExecCredential`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new CredentialError(`${what}: plugin output is not a JSON object`);
  const cred = doc as Record<string, unknown>;
  if (cred['apiVersion'] !== expectedApiVersion) {
    throw new CredentialError(`${what}: plugin returned apiVersion ${JSON.stringify(cred['apiVersion'])}, the kubeconfig expects ${expectedApiVersion}`);
  }
  if (cred['kind'] !== 'ExecCredential') throw new CredentialError(`${what}: plugin returned kind ${JSON.stringify(cred['kind'])}, expected ExecCredential`);
  const status = cred['status'];
  if (typeof status !== 'object' || status === null) throw new CredentialError(`${what}: plugin returned no status`);
  const s = status as Record<string, unknown>;
  const result: ExecCredentialResult = {};
  for (const field of ['token', 'clientCertificateData', 'clientKeyData', 'expirationTimestamp'] as const) {
    if (s[field] !== undefined && s[field] !== null && typeof s[field] !== 'string') throw new CredentialError(`${what}: status.${field} must be a string`);
  }
  const token = s['token'] as string | undefined;
  const cert = s['clientCertificateData'] as string | undefined;
  const key = s['clientKeyData'] as string | undefined;
  const expiry = s['expirationTimestamp'] as string | undefined;
  if (token) result.token = token;
  if (Boolean(cert) !== Boolean(key)) {
    throw new CredentialError(`${what}: status.clientCertificateData and status.clientKeyData must be returned together`);
  }
  if (cert && key) {
    result.cert = Buffer.from(cert, 'utf8');
    result.key = Buffer.from(key, 'utf8');
  }
  if (!result.token && !result.cert) throw new CredentialError(`${what}: plugin returned neither status.token nor a client certificate and key`);
  if (expiry) {
    const at = Date.parse(expiry);
    if (Number.isNaN(at)) throw new CredentialError(`${what}: status.expirationTimestamp ${JSON.stringify(expiry)} is not an RFC 3339 time`);
    result.expiresAt = at;
  }
  return result;
}

export class ExecCredentialPlugin {
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private cached: ExecCredentialResult | undefined;
  private pending: Promise<ExecCredentialResult> | undefined;
  /** How many times the plugin ran (for tests and metrics). */
  runs = 0;

  constructor(
    private readonly config: ExecPluginConfig,
    private readonly options: ExecPluginOptions,
  ) {
    this.clock = options.clock ?? realClock;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.baseEnv = options.env ?? process.env;
  }

  /** The cached credential while it has not expired; otherwise runs the plugin. */
  async get(): Promise<ExecCredentialResult> {
    const cached = this.cached;
    if (cached && (cached.expiresAt === undefined || this.clock.now() < cached.expiresAt)) return cached;
    this.pending ??= this.run().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** The server refused `used` (401): forget it if it is still the cached one. */
  invalidate(used?: ExecCredentialResult): void {
    if (used === undefined || this.cached === used) this.cached = undefined;
  }

  private async run(): Promise<ExecCredentialResult> {
    const { what } = this.options;
    if (this.config.interactiveMode === 'Always') {
      throw new CredentialError(`${what}: interactiveMode Always needs a terminal, and the agent has none`);
    }
    const execInfo = {
      apiVersion: this.config.apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false, ...(this.config.cluster ? { cluster: this.config.cluster } : {}) },
    };
    const env: NodeJS.ProcessEnv = { ...this.baseEnv };
    for (const { name, value } of this.config.env) env[name] = value;
    env['KUBERNETES_EXEC_INFO'] = JSON.stringify(execInfo);
    this.runs++;
    const stdout = await this.spawnPlugin(env);
    const result = parseExecCredential(stdout, this.config.apiVersion, what);
    this.cached = result;
    return result;
  }

  private spawnPlugin(env: NodeJS.ProcessEnv): Promise<string> {
    const { what } = this.options;
    const { command, args, installHint } = this.config;
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let outBytes = 0;
      let errText = '';
      let settled = false;
      const fail = (message: string, cause?: unknown) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        child.kill('SIGKILL');
        reject(new CredentialError(`${what}: ${message}`, { cause }));
      };
      const timer = this.clock.setTimeout(() => fail(`${command} did not finish within ${this.timeoutMs} ms`), this.timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        outBytes += chunk.length;
        if (outBytes > MAX_OUTPUT_BYTES) fail(`${command} wrote more than ${MAX_OUTPUT_BYTES} bytes`);
        else out.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        errText = (errText + chunk.toString('utf8')).slice(-2000);
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'ENOENT' && installHint ? `\n${installHint}` : '';
        fail(`cannot run ${command}: ${err.message}${hint}`, err);
      });
      child.on('close', (code, signal) => {
        if (settled) return;
        if (code !== 0) {
          const lastLine = errText.trim().split('\n').at(-1)?.slice(0, 300);
          fail(`${command} exited with ${signal ?? `code ${code}`}${lastLine ? `: ${lastLine}` : ''}`);
          return;
        }
        settled = true;
        timer.cancel();
        resolve(Buffer.concat(out).toString('utf8'));
      });
    });
  }
}
