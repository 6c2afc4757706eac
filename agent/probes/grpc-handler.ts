// grpc probes: the standard grpc.health.v1.Health/Check over plain-text HTTP/2
// (kubelet dials without TLS), to the pod IP. SERVING is success; any other status,
// a non-zero grpc-status or no answer within the timeout is a failure, with
// kubelet's wording.
import http2 from 'node:http2';
import type { GRPCAction } from '../api/types.js';
import { joinHostPort } from './container-port.js';
import {
  GRPC_CODE_NAMES,
  SERVING,
  SERVING_STATUS_NAMES,
  decodeGrpcMessage,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  frameMessage,
  unframeMessages,
} from './grpc-health-codec.js';
import { PROBE_USER_AGENT, ProbeError, elapsedMs, formatDuration, type ProbeOutcome } from './probe-outcome.js';

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
/** A health answer is one tiny message; anything larger is not a health server. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const GRPC_UNIMPLEMENTED = 12;

export interface GrpcProbeTarget {
  podIP: string;
}

export async function grpcProbe(action: GRPCAction, target: GrpcProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  if (!target.podIP) throw new ProbeError('grpc probe: the pod has no IP yet');
  if (!Number.isInteger(action.port) || action.port <= 0 || action.port >= 65536) {
    throw new ProbeError(`invalid port number: ${action.port}`);
  }
  return healthCheck(target.podIP, action.port, action.service ?? '', timeoutMs);
}

/** One Health/Check call to host:port for `service`. */
export function healthCheck(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeOutcome> {
  const start = performance.now();
  const address = joinHostPort(host, port);
  const within = formatDuration(timeoutMs);
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    const session = http2.connect(`http://${address}`);
    const finish = (result: ProbeOutcome['result'], message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve({ result, message, latencyMs: elapsedMs(start) });
    };
    const fail = (message: string) => finish('failure', message);
    const connectFailed = (why: string) => fail(`timeout: failed to connect service ${JSON.stringify(address)} within ${within}: ${why}`);
    const timer = setTimeout(() => {
      if (connected) fail(`timeout: health rpc did not complete within ${within}`);
      else connectFailed('context deadline exceeded');
    }, timeoutMs);

    session.once('connect', () => {
      connected = true;
    });
    session.on('error', (err) => (connected ? fail(`error: health rpc probe failed: ${err.message}`) : connectFailed(err.message)));

    const req = session.request({
      ':method': 'POST',
      ':path': HEALTH_CHECK_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': PROBE_USER_AGENT,
      'grpc-timeout': `${Math.max(1, Math.round(timeoutMs))}m`,
    });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('response', (h) => {
      headers = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) return fail(`error: health rpc probe failed: response larger than ${MAX_RESPONSE_BYTES} bytes`);
      chunks.push(chunk);
    });
    // A stream refused before the session connected carries the connection's error as its cause.
    req.on('error', (err) => (connected ? fail(`error: health rpc probe failed: ${err.message}`) : connectFailed(rootMessage(err))));
    req.on('end', () => {
      const [result, message] = interpret(headers, trailers, Buffer.concat(chunks));
      finish(result, message);
    });
    req.end(frameMessage(encodeHealthCheckRequest(service)));
  });
}

/** The probe result of a finished call, with kubelet's messages. */
export function interpret(headers: http2.IncomingHttpHeaders, trailers: http2.IncomingHttpHeaders, body: Buffer): [ProbeOutcome['result'], string] {
  const httpStatus = Number(headers[':status'] ?? 0);
  // A trailers-only answer carries grpc-status in the headers.
  const rawCode = trailers['grpc-status'] ?? headers['grpc-status'];
  if (rawCode === undefined && httpStatus !== 200) {
    return ['failure', `error: health rpc probe failed: unexpected HTTP status code received from server: ${httpStatus}`];
  }
  const code = Number(rawCode ?? 2);
  if (code !== 0) {
    const desc = decodeGrpcMessage(String(trailers['grpc-message'] ?? headers['grpc-message'] ?? ''));
    const rpcError = `rpc error: code = ${GRPC_CODE_NAMES[code] ?? `Code(${code})`} desc = ${desc}`;
    if (code === GRPC_UNIMPLEMENTED) return ['failure', `this server does not implement the grpc health protocol (grpc.health.v1.Health): ${rpcError}`];
    return ['failure', `error: health rpc probe failed: ${rpcError}`];
  }
  let status: number;
  try {
    const message = unframeMessages(body)[0];
    if (!message && body.length === 0) return ['failure', 'error: health rpc probe failed: the server sent no HealthCheckResponse'];
    status = decodeHealthCheckResponse(message ?? Buffer.alloc(0));
  } catch (err) {
    return ['failure', `error: health rpc probe failed: ${(err as Error).message}`];
  }
  if (status !== SERVING) {
    return ['failure', `service unhealthy (responded with ${JSON.stringify(SERVING_STATUS_NAMES[status] ?? String(status))})`];
  }
  return ['success', 'service healthy'];
}

function rootMessage(err: Error): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
