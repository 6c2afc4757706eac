// What the client presents to the apiserver: a bearer token, basic auth, or a
// client certificate, each possibly coming from a file that rotates or from an
// exec plugin. The client asks for credentials before every request and hands
// back the ones the server refused (401) so a rotated secret is fetched again.
import { createSecureContext } from 'node:tls';
import { CredentialError } from './errors.js';
import type { ExecCredentialPlugin, ExecCredentialResult } from './exec-credential.js';
import type { ReloadingFile } from './reloading-file.js';

export interface Credentials {
  readonly token?: string;
  readonly username?: string;
  readonly password?: string;
  /** PEM client certificate (with its chain). */
  readonly cert?: Buffer;
  /** PEM private key of `cert`. */
  readonly key?: Buffer;
}

export interface CredentialSource {
  /** The credentials to use now (may read a file or run a plugin). */
  get(): Promise<Credentials>;
  /**
   * The server answered 401 to `used`. Drops them if they are still current and
   * says whether asking again could yield different ones (worth one retry).
   */
  invalidate(used: Credentials): boolean;
}

/** Credentials that never change (or none: anonymous). */
export class StaticCredentials implements CredentialSource {
  constructor(private readonly credentials: Credentials = {}) {}
  get(): Promise<Credentials> {
    return Promise.resolve(this.credentials);
  }
  invalidate(): boolean {
    return false;
  }
}

export interface CredentialParts {
  token?: string;
  tokenFile?: ReloadingFile;
  username?: string;
  password?: string;
  cert?: Buffer;
  certFile?: ReloadingFile;
  key?: Buffer;
  keyFile?: ReloadingFile;
  exec?: ExecCredentialPlugin;
  /** Names the user in errors, e.g. `kubeconfig /etc/kc: users["node"]`. */
  what: string;
}

function sameBuffer(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

/** Credentials assembled from a kubeconfig user: static values, rotating files and an exec plugin. */
export class KubeconfigCredentials implements CredentialSource {
  private current: Credentials | undefined;
  private lastExec: ExecCredentialResult | undefined;

  constructor(private readonly parts: CredentialParts) {}

  async get(): Promise<Credentials> {
    const p = this.parts;
    let token = p.token;
    // A token file wins over an inline token once it could be read (client-go's rule).
    if (p.tokenFile) token = (await p.tokenFile.read()).toString('utf8').trim();
    let cert = p.certFile ? await p.certFile.read() : p.cert;
    let key = p.keyFile ? await p.keyFile.read() : p.key;
    if (p.exec) {
      const result = await p.exec.get();
      this.lastExec = result;
      if (result.token) token = result.token;
      if (result.cert && result.key) {
        cert = result.cert;
        key = result.key;
      }
    }
    const cur = this.current;
    if (cur && cur.token === token && sameBuffer(cur.cert, cert) && sameBuffer(cur.key, key)) return cur;
    if (cert && key) this.checkKeyPair(cert, key);
    // One object per distinct value, so invalidate() can tell stale credentials from current ones.
    this.current = {
      ...(token ? { token } : {}),
      ...(p.username !== undefined ? { username: p.username, password: p.password ?? '' } : {}),
      ...(cert && key ? { cert, key } : {}),
    };
    return this.current;
  }

  invalidate(used: Credentials): boolean {
    const p = this.parts;
    const refreshable = Boolean(p.exec || p.tokenFile || p.certFile || p.keyFile);
    if (used !== this.current) return refreshable;
    p.exec?.invalidate(this.lastExec);
    p.tokenFile?.invalidate();
    p.certFile?.invalidate();
    p.keyFile?.invalidate();
    return refreshable;
  }

  private checkKeyPair(cert: Buffer, key: Buffer): void {
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      throw new CredentialError(`${this.parts.what}: client certificate and key are not a usable pair: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** The Authorization header for `credentials`, if they carry a token or basic auth. */
export function authorizationHeader(credentials: Credentials): string | undefined {
  if (credentials.token) return `Bearer ${credentials.token}`;
  if (credentials.username !== undefined) {
    return `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`, 'utf8').toString('base64')}`;
  }
  return undefined;
}
