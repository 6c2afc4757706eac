import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcProbe, HEALTH_CHECK_PATH } from '../../../agent/probes/grpc-handler.js';
import {
  decodeHealthCheckResponse,
  decodeVarint,
  encodeHealthCheckRequest,
  encodeVarint,
  frameMessage,
  unframeMessages,
} from '../../../agent/probes/grpc-health-codec.js';

/** A decoder for the request, written independently of the agent's encoder. */
function serviceOf(body: Buffer): string {
  const message = body.subarray(5, 5 + body.readUInt32BE(1));
  if (message.length === 0) return '';
  expect(message[0]).toBe(0x0a);
  const len = message[1]!; // services in these tests are short: one-byte varint
  return message.subarray(2, 2 + len).toString('utf8');
}

const STATUS_BY_SERVICE: Record<string, number> = { '': 1, down: 2, odd: 3 };
let server: http2.Http2Server;
let port = 0;
const seenHeaders: http2.IncomingHttpHeaders[] = [];
const hanging = new Set<http2.ServerHttp2Stream>();

beforeAll(async () => {
  server = http2.createServer();
  server.on('stream', (stream, headers) => {
    seenHeaders.push(headers);
    if (headers[':path'] !== HEALTH_CHECK_PATH) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unknown service' }, { endStream: true });
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const service = serviceOf(Buffer.concat(chunks));
      if (service === 'hang') {
        hanging.add(stream);
        return;
      }
      if (service === 'unknown-service') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'unknown%20service' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      const status = STATUS_BY_SERVICE[service] ?? 0;
      stream.end(frameMessage(Buffer.from([0x08, status])));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of hanging) s.close();
  await new Promise((r) => server.close(r));
});

const target = { podIP: '127.0.0.1' };

describe('grpcProbe', () => {
  it('succeeds when the server is SERVING and sends a standard health request', async () => {
    const outcome = await grpcProbe({ port }, target, 1000);
    expect(outcome).toMatchObject({ result: 'success', message: 'service healthy' });
    expect(seenHeaders.at(-1)).toMatchObject({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': expect.stringMatching(/^kube-probe\//),
    });
  });

  it('fails with the status name when the service is NOT_SERVING or SERVICE_UNKNOWN', async () => {
    expect(await grpcProbe({ port, service: 'down' }, target, 1000)).toMatchObject({
      result: 'failure',
      message: 'service unhealthy (responded with "NOT_SERVING")',
    });
    expect(await grpcProbe({ port, service: 'odd' }, target, 1000)).toMatchObject({
      result: 'failure',
      message: 'service unhealthy (responded with "SERVICE_UNKNOWN")',
    });
  });

  it('fails with grpc-message when grpc-status is not OK', async () => {
    const outcome = await grpcProbe({ port, service: 'unknown-service' }, target, 1000);
    expect(outcome).toMatchObject({ result: 'failure', message: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service' });
  });

  it('fails when the call does not complete within the timeout', async () => {
    const outcome = await grpcProbe({ port, service: 'hang' }, target, 200);
    expect(outcome).toMatchObject({ result: 'failure', message: 'timeout: health rpc did not complete within 200ms' });
  });

  it('fails when nothing listens', async () => {
    const closed = http2.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const free = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const outcome = await grpcProbe({ port: free }, target, 1000);
    expect(outcome.result).toBe('failure');
    expect(outcome.message).toMatch(new RegExp(`^timeout: failed to connect service "127\\.0\\.0\\.1:${free}" within 1s: .*ECONNREFUSED`));
  });
});

describe('grpc health codec', () => {
  it('encodes HealthCheckRequest by hand', () => {
    expect(encodeHealthCheckRequest('')).toEqual(Buffer.alloc(0));
    expect(encodeHealthCheckRequest('db')).toEqual(Buffer.from([0x0a, 2, 0x64, 0x62]));
    const long = 'x'.repeat(300);
    expect(encodeHealthCheckRequest(long).subarray(0, 3)).toEqual(Buffer.from([0x0a, 0xac, 0x02]));
  });

  it('round-trips varints', () => {
    for (const n of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 40]) {
      expect(decodeVarint(encodeVarint(n), 0)).toEqual({ value: n, next: encodeVarint(n).length });
    }
  });

  it('decodes HealthCheckResponse, skipping unknown fields and defaulting to UNKNOWN', () => {
    expect(decodeHealthCheckResponse(Buffer.from([0x08, 0x01]))).toBe(1);
    expect(decodeHealthCheckResponse(Buffer.alloc(0))).toBe(0);
    // field 2 (string "ab") then field 1 = 2
    expect(decodeHealthCheckResponse(Buffer.from([0x12, 0x02, 0x61, 0x62, 0x08, 0x02]))).toBe(2);
    expect(() => decodeHealthCheckResponse(Buffer.from([0x12, 0x05, 0x61]))).toThrow(/truncated/);
  });

  it('frames and unframes messages', () => {
    const framed = Buffer.concat([frameMessage(Buffer.from([0x08, 0x01])), frameMessage(Buffer.alloc(0))]);
    expect(unframeMessages(framed)).toEqual([Buffer.from([0x08, 0x01]), Buffer.alloc(0)]);
    expect(() => unframeMessages(Buffer.from([1, 0, 0, 0, 0]))).toThrow(/compressed/);
  });
});
