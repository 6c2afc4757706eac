// `nodelet rules [SERVICE]`: per Service port, its ClusterIP, ports, the endpoints
// the proxy spreads over and the kernel rules that implement it — asked of the
// running proxy, so it is what is programmed, not what a file says.
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { fetchRules, rulesSocketPath } from '../network/proxy/rules-socket.js';

export async function runRulesCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      'root-dir': { type: 'string', default: '/var/lib/nodelet' },
      output: { type: 'string', short: 'o' },
      namespace: { type: 'string', short: 'n', default: 'default' },
      'node-name': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const name = positionals[0];
  const service = name ? (name.includes('/') ? name : `${values.namespace}/${name}`) : undefined;
  let view;
  try {
    view = await fetchRules(rulesSocketPath(values['root-dir']), service);
  } catch (err) {
    process.stderr.write(
      `nodelet rules: cannot reach the proxy at ${rulesSocketPath(values['root-dir'])} (is \`nodelet proxy\` running with this --root-dir?): ${(err as Error).message}\n`,
    );
    return 1;
  }
  if (values.output === 'json') {
    process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    return 0;
  }
  if (values.output === 'yaml') {
    process.stdout.write(stringify(view));
    return 0;
  }
  if (service && view.services.length === 0) {
    process.stderr.write(`nodelet rules: no rules for Service ${service} (unknown, headless, or skipped as invalid: see the proxy's log)\n`);
    return 1;
  }
  const out: string[] = [`mode: ${view.mode}    last sync: ${view.lastSyncedAt ?? 'never'}`];
  for (const s of view.services) {
    out.push('');
    out.push(
      `${s.key}  ${s.type}  ${s.clusterIP}:${s.port}/${s.protocol}${s.nodePort ? `  nodePort ${s.nodePort}` : ''}${s.externalIPs.length ? `  externalIPs ${s.externalIPs.join(',')}` : ''}`,
    );
    out.push(`  endpoints: ${s.endpoints.length ? s.endpoints.join(' ') : '(none: traffic is rejected)'}`);
    for (const r of s.rules) out.push(`    ${r}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
