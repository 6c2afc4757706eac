import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildProbeUrl, httpProbe, MAX_HTTP_BODY_BYTES, resolvePort } from '../../../agent/probes/http-handler.js';
import { ProbeError } from '../../../agent/probes/probe-outcome.js';

interface Seen {
  path: string;
  headers: http.IncomingHttpHeaders;
}

const container = { name: 'app', ports: [{ name: 'web', containerPort: 0 }] };
let server: http.Server;
let other: http.Server;
let secure: https.Server;
let port = 0;
let otherPort = 0;
let securePort = 0;
let seen: Seen[] = [];
let otherSeen: Seen[] = [];
let certDir = '';
const hanging = new Set<http.ServerResponse>();

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  seen.push({ path: `${url.pathname}${url.search}`, headers: req.headers });
  switch (url.pathname) {
    case '/ok':
      res.end('fine');
      return;
    case '/missing':
      res.statusCode = 404;
      res.end('no');
      return;
    case '/broken':
      res.statusCode = 500;
      res.end('boom');
      return;
    case '/moved':
      res.writeHead(302, { location: '/ok' });
      res.end();
      return;
    case '/elsewhere':
      res.writeHead(301, { location: `http://localhost:${otherPort}/ok` });
      res.end('gone away');
      return;
    case '/loop':
      res.writeHead(307, { location: `/loop?n=${Number(url.searchParams.get('n') ?? 0) + 1}` });
      res.end();
      return;
    case '/big':
      res.end(Buffer.alloc(1024 * 1024, 'a'));
      return;
    case '/hang':
      hanging.add(res);
      return; // never answers
    default:
      res.statusCode = 418;
      res.end();
  }
}

function listen(s: http.Server | https.Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

beforeAll(async () => {
  server = http.createServer(handler);
  port = await listen(server);
  container.ports[0]!.containerPort = port;
  other = http.createServer((req, res) => {
    otherSeen.push({ path: req.url ?? '', headers: req.headers });
    res.end('other');
  });
  otherPort = await listen(other);
  certDir = mkdtempSync(join(tmpdir(), 'probe-cert-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=probe.test',
      '-keyout',
      join(certDir, 'key.pem'),
      '-out',
      join(certDir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  secure = https.createServer({ key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) }, handler);
  securePort = await listen(secure);
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  for (const s of [server, other, secure]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  rmSync(certDir, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
  otherSeen = [];
});

const target = { podIP: '127.0.0.1', container };

describe('httpProbe', () => {
  it("succeeds on 200 and sends kubelet's default headers to the pod IP", async () => {
    const outcome = await httpProbe({ port, path: '/ok' }, target, 1000);
    expect(outcome).toMatchObject({ result: 'success', statusCode: 200, message: 'fine' });
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers).toMatchObject({
      'user-agent': expect.stringMatching(/^kube-probe\/1\.\d+$/),
      accept: '*/*',
      host: `127.0.0.1:${port}`,
      connection: 'close',
    });
  });

  it("fails on 404 and 500 with kubelet's message", async () => {
    expect(await httpProbe({ port, path: '/missing' }, target, 1000)).toMatchObject({
      result: 'failure',
      statusCode: 404,
      message: 'HTTP probe failed with statuscode: 404',
    });
    expect(await httpProbe({ port, path: '/broken' }, target, 1000)).toMatchObject({
      result: 'failure',
      statusCode: 500,
      message: 'HTTP probe failed with statuscode: 500',
    });
  });

  it("sends the probe's headers, which override the defaults", async () => {
    await httpProbe(
      {
        port,
        path: '/ok?x=1',
        httpHeaders: [
          { name: 'X-Custom', value: 'a' },
          { name: 'User-Agent', value: 'mine' },
          { name: 'Host', value: 'app.example' },
        ],
      },
      target,
      1000,
    );
    expect(seen[0]).toMatchObject({ path: '/ok?x=1', headers: { 'x-custom': 'a', 'user-agent': 'mine', host: 'app.example' } });
  });

  it('follows a redirect on the same host', async () => {
    const outcome = await httpProbe({ port, path: '/moved', httpHeaders: [{ name: 'X-Custom', value: 'kept' }] }, target, 1000);
    expect(outcome).toMatchObject({ result: 'success', statusCode: 200, message: 'fine' });
    expect(outcome.warning).toBeUndefined();
    expect(seen.map((s) => s.path)).toEqual(['/moved', '/ok']);
    expect(seen[1]!.headers['x-custom']).toBe('kept');
  });

  it('does not follow a redirect to another host and counts it as a success with a warning', async () => {
    const outcome = await httpProbe({ port, path: '/elsewhere' }, target, 1000);
    expect(outcome).toMatchObject({ result: 'success', warning: true, statusCode: 301, message: 'Probe terminated redirects, Response body: gone away' });
    expect(otherSeen).toEqual([]);
  });

  it('fails after 10 redirects', async () => {
    const outcome = await httpProbe({ port, path: '/loop' }, target, 2000);
    expect(outcome.result).toBe('failure');
    expect(outcome.message).toMatch(/stopped after 10 redirects$/);
    expect(seen).toHaveLength(11);
  });

  it('fails when the server does not answer within the timeout', async () => {
    const outcome = await httpProbe({ port, path: '/hang' }, target, 200);
    expect(outcome.result).toBe('failure');
    expect(outcome.message).toBe(`Get "http://127.0.0.1:${port}/hang": timed out after 200ms awaiting headers`);
  });

  it('fails when nothing listens', async () => {
    const closed = http.createServer();
    const free = await listen(closed);
    await new Promise((r) => closed.close(r));
    const outcome = await httpProbe({ port: free, path: '/' }, target, 1000);
    expect(outcome.result).toBe('failure');
    expect(outcome.message).toContain('ECONNREFUSED');
  });

  it('reads at most 10 KiB of the body', async () => {
    const outcome = await httpProbe({ port, path: '/big' }, target, 2000);
    expect(outcome.result).toBe('success');
    expect(outcome.message).toHaveLength(MAX_HTTP_BODY_BYTES);
  });

  it("resolves a named port and prefers the action's host over the pod IP", async () => {
    const outcome = await httpProbe({ port: 'web', path: '/ok', host: '127.0.0.1' }, { podIP: '192.0.2.1', container }, 1000);
    expect(outcome.result).toBe('success');
  });

  it('speaks HTTPS without checking the certificate', async () => {
    const outcome = await httpProbe({ port: securePort, path: '/ok', scheme: 'HTTPS' }, target, 2000);
    expect(outcome).toMatchObject({ result: 'success', statusCode: 200, message: 'fine' });
    expect(seen[0]!.path).toBe('/ok');
  });

  it('throws ProbeError for a port name the container does not declare', async () => {
    await expect(httpProbe({ port: 'admin' }, target, 1000)).rejects.toBeInstanceOf(ProbeError);
    await expect(httpProbe({ port: 80 }, { podIP: '', container }, 1000)).rejects.toThrow(/no host and the pod has no IP/);
  });
});

describe('buildProbeUrl and resolvePort', () => {
  it('builds the URL as kubelet does', () => {
    expect(buildProbeUrl(undefined, '10.0.0.5', 8080, undefined).href).toBe('http://10.0.0.5:8080/');
    expect(buildProbeUrl('HTTPS', '10.0.0.5', 8443, 'healthz?full=1').href).toBe('https://10.0.0.5:8443/healthz?full=1');
    expect(buildProbeUrl('HTTP', 'fd00::5', 80, '/x').href).toBe('http://[fd00::5]/x');
    // A path can never move the probe to another host.
    expect(buildProbeUrl('HTTP', '10.0.0.5', 80, 'http://evil.example/x').host).toBe('10.0.0.5');
    expect(buildProbeUrl('HTTP', '10.0.0.5', 81, '//evil.example/x').href).toBe('http://10.0.0.5:81/x');
  });

  it('resolves numbers and names, and refuses unknown names and bad numbers', () => {
    const c = { name: 'app', ports: [{ name: 'http', containerPort: 8080 }] };
    expect(resolvePort(9000, c)).toBe(9000);
    expect(resolvePort('http', c)).toBe(8080);
    expect(() => resolvePort('grpc', c)).toThrow("couldn't find port: grpc in container app's ports");
    expect(() => resolvePort(70000, c)).toThrow('invalid port number: 70000');
  });
});
