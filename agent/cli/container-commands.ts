// `nodelet logs | exec | inspect`: find a pod (and container) of this node by name.
import { parseArgs } from 'node:util';
import { defaultConfig, defaultNodeName } from '../config/config.js';
import type { Pod } from '../api/types.js';
import { LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE, nodeSelectorLabels } from '../runtime/labels.js';
import { createRuntime } from '../runtime/create-runtime.js';
import type { Runtime } from '../runtime/runtime.js';
import { parseOutputFormat, renderStructured } from './format.js';
import { listNodePods } from './pod-listing.js';
import { PodStateStore } from '../state/pod-state-store.js';

const options = {
  'node-name': { type: 'string' },
  'root-dir': { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  container: { type: 'string', short: 'c' },
  output: { type: 'string', short: 'o' },
  tail: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  timestamps: { type: 'boolean' },
} as const;

function splitPodArg(arg: string | undefined, namespace: string | undefined): { namespace: string; name: string } {
  if (!arg) throw new Error('name a pod: [NAMESPACE/]POD');
  const slash = arg.indexOf('/');
  if (slash > 0) return { namespace: arg.slice(0, slash), name: arg.slice(slash + 1) };
  return { namespace: namespace ?? 'default', name: arg };
}

/** The newest container (running preferred) of the named pod and container name. */
async function findContainer(runtime: Runtime, nodeName: string, ns: string, pod: string, container?: string): Promise<string> {
  const all = await runtime.listContainers({ labels: { ...nodeSelectorLabels(nodeName), [LABEL_POD_NAMESPACE]: ns, [LABEL_POD_NAME]: pod } });
  if (all.length === 0) throw new Error(`pod ${ns}/${pod} has no containers on node ${nodeName}`);
  const names = [...new Set(all.map((c) => c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name))];
  const wanted = container ?? (names.length === 1 ? names[0] : undefined);
  if (!wanted) throw new Error(`pod ${ns}/${pod} has several containers (${names.join(', ')}): choose one with -c`);
  const candidates = all
    .filter((c) => (c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name) === wanted)
    .sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running') || b.createdAt.getTime() - a.createdAt.getTime());
  const found = candidates[0];
  if (!found) throw new Error(`pod ${ns}/${pod} has no container named "${wanted}" (it has: ${names.join(', ')})`);
  return found.id;
}

export async function runLogsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
  const { namespace, name } = splitPodArg(positionals[0], values.namespace);
  const runtime = createRuntime({ requestTimeoutMs: 10_000 });
  const id = await findContainer(runtime, values['node-name'] ?? defaultNodeName(), namespace, name, values.container);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const stream = await runtime.logs(id, {
    follow: values.follow,
    tailLines: values.tail !== undefined ? Number(values.tail) : undefined,
    timestamps: values.timestamps,
    signal: abort.signal,
  });
  for await (const chunk of stream) process.stdout.write(chunk as Buffer);
  return 0;
}

export async function runExecCommand(args: string[]): Promise<number> {
  const dash = args.indexOf('--');
  if (dash < 0 || dash === args.length - 1) throw new Error('usage: nodelet exec POD [-c CONTAINER] -- COMMAND [ARGS…]');
  const { values, positionals } = parseArgs({ args: args.slice(0, dash), options, allowPositionals: true, strict: true });
  const { namespace, name } = splitPodArg(positionals[0], values.namespace);
  const runtime = createRuntime({ requestTimeoutMs: 10_000 });
  const id = await findContainer(runtime, values['node-name'] ?? defaultNodeName(), namespace, name, values.container);
  const result = await runtime.exec(id, args.slice(dash + 1), { timeoutMs: 0 });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  return result.exitCode;
}

export async function runInspectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
  const { namespace, name } = splitPodArg(positionals[0], values.namespace);
  const nodeName = values['node-name'] ?? defaultNodeName();
  const runtime = createRuntime({ requestTimeoutMs: 10_000 });
  const listing = await listNodePods(runtime, nodeName, values['root-dir'] ?? defaultConfig().rootDir);
  const pod: Pod | undefined = listing.pods.find((p) => p.metadata.namespace === namespace && p.metadata.name === name);
  if (!pod) throw new Error(`pod ${namespace}/${name} not found on node ${nodeName}`);
  const format = parseOutputFormat(values.output ?? 'yaml');
  // crictl inspectp shows the runtime's view beside the pod; here: the probes' last results.
  const probes = new PodStateStore(values['root-dir'] ?? defaultConfig().rootDir).loadProbeResultsSync(pod.metadata.uid ?? '');
  process.stdout.write(renderStructured(probes ? { ...pod, probes } : pod, format === 'json' ? 'json' : 'yaml'));
  return 0;
}
