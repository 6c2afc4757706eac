// The three Docker API calls of an exec (create, start, inspect), written directly on
// the engine's unix socket with http1-exchange instead of through dockerode. Exec
// probes make them dozens of times a second: through dockerode (docker-modem formats
// every request with util.inspect, then node:http) an exec cost the agent ~5 ms of
// CPU. Failures carry `statusCode` and `json` as dockerode's do, so docker-errors.ts
// maps both the same way.
import type net from 'node:net';
import { http1Exchange, http1Upgrade } from '../../../util/http1-exchange.js';

/** Docker's JSON answers to these calls are small; an error body is a message. */
const MAX_JSON_BYTES = 1024 * 1024;

export interface ExecInspect {
  Running: boolean;
  ExitCode: number | null;
}

function requestText(method: string, path: string, body: unknown, extraHeaders: string[] = []): string {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const headers = [
    `${method} ${path} HTTP/1.1`,
    'Host: docker',
    'User-Agent: nodelet',
    ...extraHeaders,
    ...(body === undefined ? [] : ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`]),
  ];
  return `${headers.join('\r\n')}\r\n\r\n${payload}`;
}

/** An error shaped like dockerode's, for a non-2xx answer. */
function apiError(method: string, path: string, status: number, body: Buffer): Error {
  let json: unknown = body.toString('utf8');
  try {
    json = JSON.parse(json as string);
  } catch {
    // not JSON: keep the text
  }
  const message =
    typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string'
      ? (json as { message: string }).message
      : String(json).trim();
  return Object.assign(new Error(`(HTTP code ${status}) ${method} ${path}: ${message}`), { statusCode: status, json });
}

export class DockerRawApi {
  constructor(private readonly socketPath: string) {}

  private async json<T>(method: string, path: string, body: unknown, signal: AbortSignal): Promise<T> {
    const res = await http1Exchange(this.connect(), requestText(method, path, body, ['Connection: close']), { maxBodyBytes: MAX_JSON_BYTES, signal });
    if (res.status < 200 || res.status >= 300) throw apiError(method, path, res.status, res.body);
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  private connect(): net.NetConnectOpts {
    return { path: this.socketPath };
  }

  /** POST /containers/{id}/exec → the exec's id. */
  async createExec(containerId: string, config: Record<string, unknown>, signal: AbortSignal): Promise<string> {
    const { Id } = await this.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(containerId)}/exec`, config, signal);
    return Id;
  }

  /**
   * POST /exec/{id}/start, upgraded to a raw stream: the connection (paused) and the
   * stream bytes that arrived with the answer's head.
   */
  async startExec(execId: string, tty: boolean, signal: AbortSignal): Promise<{ socket: net.Socket; leftover: Buffer }> {
    const path = `/exec/${encodeURIComponent(execId)}/start`;
    const request = requestText('POST', path, { Detach: false, Tty: tty }, ['Connection: Upgrade', 'Upgrade: tcp']);
    const r = await http1Upgrade(this.connect(), request, { maxBodyBytes: MAX_JSON_BYTES, signal });
    if ('upgraded' in r) return { socket: r.upgraded.socket, leftover: r.upgraded.leftover };
    throw apiError('POST', path, r.response.status, r.response.body);
  }

  /** GET /exec/{id}/json. */
  inspectExec(execId: string, signal: AbortSignal): Promise<ExecInspect> {
    return this.json<ExecInspect>('GET', `/exec/${encodeURIComponent(execId)}/json`, undefined, signal);
  }
}
