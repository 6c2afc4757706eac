import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeError } from '../../../agent/probes/probe-outcome.js';
import { tcpProbe } from '../../../agent/probes/tcp-handler.js';

let server: net.Server;
let port = 0;
let accepted = 0;

function listen(s: net.Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

beforeAll(async () => {
  server = net.createServer((socket) => {
    accepted++;
    socket.on('error', () => undefined);
  });
  port = await listen(server);
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('tcpProbe', () => {
  it('succeeds when the port accepts a connection, and closes it', async () => {
    const outcome = await tcpProbe({ port }, { podIP: '127.0.0.1', container: { name: 'app' } }, 1000);
    expect(outcome.result).toBe('success');
    expect(accepted).toBeGreaterThanOrEqual(1);
  });

  it('resolves a named port against the pod IP', async () => {
    const outcome = await tcpProbe(
      { port: 'redis' },
      { podIP: '127.0.0.1', container: { name: 'app', ports: [{ name: 'redis', containerPort: port }] } },
      1000,
    );
    expect(outcome.result).toBe('success');
  });

  it('fails on a closed port with a dial message', async () => {
    const closed = net.createServer();
    const free = await listen(closed);
    await new Promise((r) => closed.close(r));
    const outcome = await tcpProbe({ port: free, host: '127.0.0.1' }, { podIP: '', container: { name: 'app' } }, 1000);
    expect(outcome.result).toBe('failure');
    expect(outcome.message).toMatch(new RegExp(`^dial tcp 127\\.0\\.0\\.1:${free}: .*ECONNREFUSED`));
  });

  it('throws ProbeError without a host or a known port', async () => {
    await expect(tcpProbe({ port }, { podIP: '', container: { name: 'app' } }, 1000)).rejects.toBeInstanceOf(ProbeError);
    await expect(tcpProbe({ port: 'nope' }, { podIP: '127.0.0.1', container: { name: 'app' } }, 1000)).rejects.toThrow(/couldn't find port: nope/);
  });
});
