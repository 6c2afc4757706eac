// proxy benchmark: per mode (iptables, nftables) and per Service count,
// (a) the backend's full sync against the bare `iptables-restore --noflush` (resp.
//     `nft -f -`) of the same generated ruleset, each in its own fresh netns, in the
//     same run (ratio = full sync / bare apply);
// (b) after that full sync, a change to one Service's endpoints applied as a partial
//     sync (median of --changes changes, each to a different Service).
// Everything runs in private network namespaces the bench creates and deletes: the
// host's rules are never touched.
// The default run (1,000 and 10,000 Services in both modes) takes about a minute here.
//
// Options: --services N[,N…] (both modes), --iptables-services / --nftables-services
// (one mode; override --services), --endpoints N (per Service, default 5),
// --changes N (default 5), --modes iptables,nftables.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import {
  HostCommandRunner,
  NO_TIMEOUT,
  runChecked,
  type CommandOptions,
  type CommandResult,
  type CommandRunner,
} from '../../agent/network/proxy/host-command.js';
import { IptablesBackend } from '../../agent/network/proxy/iptables-applier.js';
import { buildIptablesRules } from '../../agent/network/proxy/iptables-rules.js';
import { NftablesBackend } from '../../agent/network/proxy/nftables-applier.js';
import { buildNftablesRuleset } from '../../agent/network/proxy/nftables-rules.js';
import type { ProxyBackend } from '../../agent/network/proxy/proxy-backend.js';
import type { ProxyState } from '../../agent/network/proxy/service-model.js';
import { benchProxyState, withOneEndpointReplaced } from './proxy-state.js';

const run = promisify(execFile);

type BenchMode = 'iptables' | 'nftables';
const MODES: readonly BenchMode[] = ['iptables', 'nftables'];

const DEFAULT_SIZES: Record<BenchMode, number[]> = { iptables: [1000, 10000], nftables: [1000, 10000] };

const NETNS_PREFIX = 'nodelet-bench-proxy-';

export interface ProxyBenchOptions {
  sizes: Record<BenchMode, number[]>;
  modes: BenchMode[];
  endpointsPerService: number;
  changes: number;
  /** Whether the iptables sizes are the defaults (then the note above is printed). */
}

function parseCounts(flag: string, value: string | undefined): number[] {
  const counts = (value ?? '').split(',').map((s) => Number(s.trim()));
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${flag} wants a comma-separated list of positive integers, got "${value ?? ''}"`);
  }
  return counts;
}

export function parseProxyBenchArgs(args: string[]): ProxyBenchOptions {
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? (args[i + 1] ?? '') : undefined;
  };
  const both = value('--services');
  const perMode = (mode: BenchMode) => {
    const own = value(`--${mode}-services`);
    if (own !== undefined) return parseCounts(`--${mode}-services`, own);
    if (both !== undefined) return parseCounts('--services', both);
    return DEFAULT_SIZES[mode];
  };
  const modesArg = value('--modes');
  const modes = modesArg === undefined ? [...MODES] : modesArg.split(',').map((m) => m.trim());
  for (const m of modes) if (!MODES.includes(m as BenchMode)) throw new Error(`--modes: unknown mode "${m}"; available: ${MODES.join(', ')}`);
  const [endpointsPerService = 5] = value('--endpoints') === undefined ? [] : parseCounts('--endpoints', value('--endpoints'));
  const [changes = 5] = value('--changes') === undefined ? [] : parseCounts('--changes', value('--changes'));
  return {
    sizes: { iptables: perMode('iptables'), nftables: perMode('nftables') },
    modes: modes as BenchMode[],
    endpointsPerService,
    changes,
  };
}

// ---- private network namespaces ----

/** Namespaces alive now, deleted on Ctrl-C too (finally blocks do not run on a signal). */
const liveNetns = new Set<string>();

function deleteLiveNetnsOnSignal(): () => void {
  const handler = (signal: NodeJS.Signals) => {
    for (const name of liveNetns) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
    process.stderr.write(`proxy bench: ${signal}, removed its network namespaces\n`);
    process.exit(130);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Runs `fn` with a runner inside a new, empty netns, which is deleted afterwards whatever happens. */
async function inFreshNetns<T>(fn: (runner: CommandRunner) => Promise<T>): Promise<T> {
  const name = `${NETNS_PREFIX}${randomBytes(4).toString('hex')}`;
  await run('ip', ['netns', 'add', name]);
  liveNetns.add(name);
  try {
    return await fn(new HostCommandRunner({ netns: name }));
  } finally {
    // Deleting the netns drops every table and rule in it.
    await run('ip', ['netns', 'del', name]).catch((err: Error) => process.stderr.write(`could not delete netns ${name}: ${err.message}\n`));
    liveNetns.delete(name);
  }
}

/** Passes every call through, keeping the stdin of the ruleset-writing ones for comparison. */
class RecordingRunner implements CommandRunner {
  readonly inputs: string[] = [];
  constructor(private readonly inner: CommandRunner) {}
  run(command: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult> {
    if (options?.input !== undefined) this.inputs.push(options.input);
    return this.inner.run(command, args, options);
  }
}

// ---- one measurement ----

interface BareRuleset {
  command: string;
  args: string[];
  input: string;
  rules: number;
}

/** The ruleset the backend's first full sync writes into an empty netns, generated by the same pure function. */
function bareRuleset(mode: BenchMode, state: ProxyState): BareRuleset {
  if (mode === 'iptables') {
    // An empty netns holds none of our chains, as the backend reads before its first sync.
    const rules = buildIptablesRules(state, { previousChains: new Set() });
    return { command: 'iptables-restore', args: ['-w', '--noflush'], input: rules.nat + rules.filter, rules: rules.ruleCount };
  }
  const ruleset = buildNftablesRuleset(state);
  return { command: 'nft', args: ['-f', '-'], input: ruleset.script, rules: ruleset.ruleCount };
}

function newBackend(mode: BenchMode, runner: CommandRunner): ProxyBackend {
  return mode === 'iptables' ? new IptablesBackend({ runner }) : new NftablesBackend({ runner });
}

interface SizeResult {
  mode: BenchMode;
  services: number;
  endpoints: number;
  rules: number;
  inputBytes: number;
  bareMs: number;
  fullMs: number;
  changeMs: number[];
  /** Changes the backend chose to apply as a full sync (should be 0). */
  changesNotPartial: number;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function measure(mode: BenchMode, services: number, options: ProxyBenchOptions): Promise<SizeResult> {
  const state = benchProxyState(services, options.endpointsPerService);
  const bare = bareRuleset(mode, state);

  const bareMs = await inFreshNetns(
    async (runner) => (await timed(() => runChecked(runner, bare.command, bare.args, { input: bare.input, timeoutMs: NO_TIMEOUT, discardStdout: true }))).ms,
  );

  return inFreshNetns(async (netnsRunner) => {
    const runner = new RecordingRunner(netnsRunner);
    const backend = newBackend(mode, runner);
    await backend.start();
    const full = await timed(() => backend.sync(state, 'full'));
    if (!runner.inputs.includes(bare.input)) {
      throw new Error(
        `${mode} at ${services} Services: the backend's full sync did not write the ruleset the bare apply wrote; the comparison would be meaningless`,
      );
    }
    const changeMs: number[] = [];
    let changesNotPartial = 0;
    let current = state;
    for (let c = 0; c < options.changes; c++) {
      // Spread over the table, so no change hits a Service the previous one touched.
      const next = withOneEndpointReplaced(current, Math.floor(((c + 0.5) * services) / options.changes), c);
      const result = await timed(() => backend.sync(next.state, new Set([next.key])));
      changeMs.push(result.ms);
      if (result.value.full) changesNotPartial++;
      current = next.state;
    }
    return {
      mode,
      services,
      endpoints: services * options.endpointsPerService,
      rules: bare.rules,
      inputBytes: Buffer.byteLength(bare.input),
      bareMs,
      fullMs: full.ms,
      changeMs,
      changesNotPartial,
    };
  });
}

/** Loads the kernel modules the rules need (statistic, numgen, nat…) outside any timing. */
async function warmUp(mode: BenchMode): Promise<void> {
  await inFreshNetns(async (runner) => {
    const backend = newBackend(mode, runner);
    await backend.start();
    await backend.sync(benchProxyState(3, 2), 'full');
  });
}

// ---- report ----

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
const ms = (n: number) => (n < 100 ? `${n.toFixed(1)} ms` : `${n.toFixed(0)} ms`);

function table(rows: SizeResult[], changes: number): string {
  const header = [
    'mode',
    'services',
    'endpoints',
    'rules',
    'input',
    'bare apply',
    'full sync',
    'ratio',
    `1-svc change (median of ${changes})`,
    'change min–max',
  ];
  const lines = rows.map((r) => [
    r.mode,
    String(r.services),
    String(r.endpoints),
    String(r.rules),
    `${(r.inputBytes / 1024 / 1024).toFixed(1)} MiB`,
    ms(r.bareMs),
    ms(r.fullMs),
    (r.fullMs / r.bareMs).toFixed(2),
    ms(median(r.changeMs)) + (r.changesNotPartial > 0 ? ` (${r.changesNotPartial} full!)` : ''),
    r.changeMs.length > 0 ? `${ms(Math.min(...r.changeMs))}–${ms(Math.max(...r.changeMs))}` : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [fmt(header), ...lines.map(fmt)].join('\n');
}

export async function runProxyBench(args: string[]): Promise<void> {
  const options = parseProxyBenchArgs(args);
  process.stdout.write(
    `proxy bench: ${options.endpointsPerService} endpoints per Service, ${options.changes} one-Service changes per size, each measurement in a fresh private netns\n`,
  );
  const stopSignalCleanup = deleteLiveNetnsOnSignal();
  const rows: SizeResult[] = [];
  try {
    for (const mode of options.modes) {
      await warmUp(mode);
      for (const services of options.sizes[mode]) {
        process.stdout.write(`  ${mode}: ${services} Services…\n`);
        rows.push(await measure(mode, services, options));
      }
    }
  } finally {
    stopSignalCleanup();
  }
  process.stdout.write(`${table(rows, options.changes)}\n`);
  const iptablesRows = rows.filter((r) => r.mode === 'iptables');
  const largest = iptablesRows.reduce<SizeResult | undefined>((a, r) => (a === undefined || r.services >= a.services ? r : a), undefined);
  if (!largest) {
    process.stdout.write('ratio=n/a (iptables mode not run)\n');
    return;
  }
  process.stdout.write(`ratio=${(largest.fullMs / largest.bareMs).toFixed(2)}\n`);
}
