// `nodelet pods`: the pods this node runs, as kubectl would print them.
import { parseArgs } from 'node:util';
import { defaultConfig, defaultNodeName } from '../config/config.js';
import { createRuntime } from '../runtime/create-runtime.js';
import { parseOutputFormat, renderStructured, renderTable, shortAge } from './format.js';
import { listNodePods, podDisplayStatus, readyCount, restartCount } from './pod-listing.js';

export async function runPodsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'node-name': { type: 'string' },
      'root-dir': { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      output: { type: 'string', short: 'o' },
    },
    strict: true,
  });
  const format = parseOutputFormat(values.output);
  const nodeName = values['node-name'] ?? defaultNodeName();
  const rootDir = values['root-dir'] ?? defaultConfig().rootDir;
  const runtime = createRuntime({ requestTimeoutMs: 10_000 });
  const listing = await listNodePods(runtime, nodeName, rootDir);
  const pods = listing.pods.filter((p) => !values.namespace || p.metadata.namespace === values.namespace);
  if (listing.runtimeError) process.stderr.write(`warning: container runtime unreachable (${listing.runtimeError}); showing the agent's last recorded state\n`);

  if (format === 'json' || format === 'yaml') {
    process.stdout.write(renderStructured(pods, format));
    for (const r of listing.rejected) process.stderr.write(`rejected manifest ${r.path}: ${r.message}\n`);
    return 0;
  }
  const wide = format === 'wide';
  const headers = ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', ...(wide ? ['NODE', 'UID'] : [])];
  const rows = pods.map((p) => [
    p.metadata.namespace ?? 'default',
    p.metadata.name ?? '',
    readyCount(p),
    podDisplayStatus(p),
    String(restartCount(p)),
    shortAge(p.status?.startTime ?? p.metadata.creationTimestamp),
    p.status?.podIP ?? '<none>',
    ...(wide ? [p.spec.nodeName ?? nodeName, p.metadata.uid ?? ''] : []),
  ]);
  for (const r of listing.rejected) {
    rows.push([r.namespace ?? '-', r.name ?? `(${r.path})`, '-', `Invalid`, '-', '-', '-', ...(wide ? [nodeName, '-'] : [])]);
  }
  if (rows.length === 0) {
    process.stdout.write(`No pods on node ${nodeName}.\n`);
    return 0;
  }
  process.stdout.write(renderTable(headers, rows));
  if (listing.rejected.length) {
    process.stdout.write('\nRejected manifests:\n');
    for (const r of listing.rejected) process.stdout.write(`  ${r.path}${r.index ? `#${r.index}` : ''}: ${r.message}\n`);
  }
  return 0;
}
