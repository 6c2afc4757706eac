// `nodelet rules` asks the running proxy what it programmed, over a unix socket in
// the proxy's state directory: local only (file permissions decide who may ask),
// and always the proxy's live view rather than a file that may be stale.
import { mkdir, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { dirname } from 'node:path';
import { joinInside } from '../../util/safe-path.js';
import type { ServiceRules } from './proxier.js';

export interface RulesView {
  mode: string;
  lastSyncedAt?: string;
  services: ServiceRules[];
}

export function rulesSocketPath(rootDir: string): string {
  return joinInside(rootDir, 'proxy', 'proxy.sock');
}

export async function serveRules(path: string, view: (service?: string) => RulesView): Promise<{ close(): Promise<void> }> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  await rm(path, { force: true });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    if (url.pathname !== '/rules') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(view(url.searchParams.get('service') ?? undefined)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

export function fetchRules(path: string, service?: string): Promise<RulesView> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, path: `/rules${service ? `?service=${encodeURIComponent(service)}` : ''}`, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RulesView);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('the proxy did not answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}
