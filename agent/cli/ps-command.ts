// `nodelet ps`: the node's containers, crictl-style.
import { parseArgs } from 'node:util';
import { defaultNodeName } from '../config/config.js';
import { LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_RESTART_COUNT, nodeSelectorLabels } from '../runtime/labels.js';
import { createRuntime } from '../runtime/create-runtime.js';
import { parseOutputFormat, renderStructured, renderTable, shortId, timeAgo } from './format.js';

export async function runPsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'node-name': { type: 'string' },
      all: { type: 'boolean', short: 'a' },
      quiet: { type: 'boolean', short: 'q' },
      pod: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      output: { type: 'string', short: 'o' },
    },
    strict: true,
  });
  const format = parseOutputFormat(values.output);
  const runtime = createRuntime({ requestTimeoutMs: 10_000 });
  const nodeName = values['node-name'] ?? defaultNodeName();
  const containers = (await runtime.listContainers({ labels: nodeSelectorLabels(nodeName) }))
    .filter((c) => values.all || c.state === 'running')
    .filter((c) => !values.pod || c.labels[LABEL_POD_NAME] === values.pod)
    .filter((c) => !values.namespace || c.labels[LABEL_POD_NAMESPACE] === values.namespace)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  if (values.quiet) {
    process.stdout.write(containers.map((c) => c.id + '\n').join(''));
    return 0;
  }
  if (format === 'json' || format === 'yaml') {
    process.stdout.write(renderStructured(containers, format));
    return 0;
  }
  process.stdout.write(
    renderTable(
      ['CONTAINER', 'IMAGE', 'CREATED', 'STATE', 'NAME', 'ATTEMPT', 'POD ID', 'POD'],
      containers.map((c) => [
        shortId(c.id),
        c.image.startsWith('sha256:') ? shortId(c.image.slice(7)) : c.image,
        timeAgo(c.createdAt),
        c.state.toUpperCase(),
        c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name,
        c.labels[LABEL_RESTART_COUNT] ?? String(c.metadata.attempt),
        shortId(c.podSandboxId),
        `${c.labels[LABEL_POD_NAMESPACE]}/${c.labels[LABEL_POD_NAME]}`,
      ]),
    ),
  );
  return 0;
}
