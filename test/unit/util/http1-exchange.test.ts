import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { assertHeaderSafe, decodeChunked, http1Exchange, http1Upgrade, parseHead } from '../../../agent/util/http1-exchange.js';

/** A server that answers every connection with `reply` (raw bytes), then runs `after`. */
async function rawServer(reply: (socket: net.Socket, request: string) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => {
    let request = '';
    socket.on('data', (d) => {
      request += d.toString('latin1');
      if (request.includes('\r\n\r\n')) reply(socket, request);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let server: { port: number; close: () => Promise<void> } | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
const get = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

describe('http1Exchange', () => {
  it('reads a Content-Length body without waiting for the close', async () => {
    server = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello'));
    const r = await http1Exchange({ host: '127.0.0.1', port: server.port }, get, { maxBodyBytes: 1024 });
    expect([r.status, r.body.toString(), r.headers.get('x-a')]).toEqual([200, 'hello', '1, 2']);
  });

  it('de-chunks a chunked body and reads a close-delimited one to the end', async () => {
    server = await rawServer((s) => s.end('HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n'));
    const r = await http1Exchange({ host: '127.0.0.1', port: server.port }, get, { maxBodyBytes: 1024 });
    expect([r.status, r.body.toString()]).toEqual([500, 'abcde']);
    await server.close();
    server = await rawServer((s) => s.end('HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\nmoved'));
    const c = await http1Exchange({ host: '127.0.0.1', port: server.port }, get, { maxBodyBytes: 1024 });
    expect([c.status, c.headers.get('location'), c.body.toString()]).toEqual([302, '/x', 'moved']);
  });

  it('stops at the body limit, and refuses a malformed status line', async () => {
    server = await rawServer((s) => s.write(`HTTP/1.1 200 OK\r\n\r\n${'x'.repeat(5000)}`));
    const r = await http1Exchange({ host: '127.0.0.1', port: server.port }, get, { maxBodyBytes: 100 });
    expect(r.body.length).toBe(100);
    await server.close();
    server = await rawServer((s) => s.end('SSH-2.0-OpenSSH\r\n\r\n'));
    await expect(http1Exchange({ host: '127.0.0.1', port: server.port }, get, { maxBodyBytes: 100 })).rejects.toThrow(/malformed HTTP response/);
  });

  it('rejects with the abort reason when aborted, and says so when the server hangs up', async () => {
    server = await rawServer(() => undefined);
    const controller = new AbortController();
    const pending = http1Exchange({ host: '127.0.0.1', port: server.port }, get, { maxBodyBytes: 100, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('deadline')), 50);
    await expect(pending).rejects.toThrow('deadline');
    await server.close();
    server = await rawServer((s) => s.end());
    await expect(http1Exchange({ host: '127.0.0.1', port: server.port }, get, { maxBodyBytes: 100 })).rejects.toThrow(/without a response/);
  });
});

describe('http1Upgrade', () => {
  it('hands over the connection after a 101 with the bytes already read', async () => {
    server = await rawServer((s) => {
      s.write('HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\nfirst');
      setTimeout(() => s.end('second'), 20);
    });
    const r = await http1Upgrade({ host: '127.0.0.1', port: server.port }, get, { maxBodyBytes: 100 });
    if (!('upgraded' in r)) throw new Error('not upgraded');
    const chunks: Buffer[] = [r.upgraded.leftover];
    r.upgraded.socket.on('data', (d: Buffer) => chunks.push(d));
    r.upgraded.socket.resume();
    await new Promise((resolve) => r.upgraded.socket.once('end', resolve));
    expect(Buffer.concat(chunks).toString()).toBe('firstsecond');
  });

  it('returns any other answer as a response', async () => {
    server = await rawServer((s) => s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 27\r\n\r\n{"message":"No such exec"}\n'));
    const r = await http1Upgrade({ host: '127.0.0.1', port: server.port }, get, { maxBodyBytes: 100 });
    expect('response' in r && [r.response.status, r.response.body.toString().trim()]).toEqual([404, '{"message":"No such exec"}']);
  });
});

describe('helpers', () => {
  it('parses heads only once complete, decodes partial chunked bodies, and refuses header injection', () => {
    expect(parseHead(Buffer.from('HTTP/1.1 200 OK\r\nA: b'))).toBeUndefined();
    expect(decodeChunked(Buffer.from('5\r\nhel'), 100)).toEqual({ body: Buffer.from('hel'), done: false });
    expect(() => assertHeaderSafe('X-Ok', 'a\r\nInjected: 1')).toThrow(/line break/);
    expect(() => assertHeaderSafe('Bad Name', 'v')).toThrow(/header name/);
  });
});
