// The iptables backend: writes buildIptablesRules' output into the kernel with one
// `iptables-restore -w --noflush` per sync (nat then filter in one invocation; each
// table is one kernel transaction, so a refused table is left exactly as it was, and
// a refused nat stops the restore before filter), and hooks our chains into the
// built-in ones.
// It touches only its own chains: Docker's and everyone else's are never named in
// the restore input, and --noflush leaves every chain it does not name alone.
import type { Logger } from '../../log/logger.js';
import { silentLogger } from '../../log/logger.js';
import { isServiceChainName } from './chain-names.js';
import { HostCommandError, hostCommands, NO_TIMEOUT, runChecked, type CommandRunner } from './host-command.js';
import {
  buildIptablesRules,
  IPTABLES_CANARY_RULE,
  IPTABLES_CANARY_TABLES,
  iptablesJumpRules,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_CANARY,
  KUBE_SERVICES,
  type IptablesJumpRule,
} from './iptables-rules.js';
import type { BackendSyncResult, ProxyBackend } from './proxy-backend.js';
import { serviceKey, type ProxyState } from './service-model.js';

const TABLES = ['nat', 'filter'] as const;

/** The fixed chains the iptables mode creates (per-Service chains are recognised by prefix). */
export const IPTABLES_FIXED_CHAINS: readonly string[] = [
  KUBE_SERVICES,
  KUBE_EXTERNAL_SERVICES,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_MARK_MASQ,
  KUBE_FORWARD,
  KUBE_PROXY_CANARY,
];

/**
 * With the nf_tables backend iptables creates a table and a built-in chain in the
 * kernel only when first used: our first restore may create `ip nat`/`ip filter`, our
 * jumps may create INPUT or OUTPUT. Deleting only our rules would leave those behind
 * and `nft list ruleset` would differ from before the proxy ran. So when we cause one
 * to exist we leave an empty marker chain beside it (`NODELET-NEW-INPUT`,
 * `NODELET-NEW-TABLE`); it lives in the kernel, so the mark survives restarts and is
 * seen by `nodelet proxy --cleanup` in another process, which removes what it marks
 * if it is still empty. Without a marker, a built-in chain or table is never removed.
 */
export const CREATED_MARKER_PREFIX = 'NODELET-NEW-';
export const CREATED_TABLE_MARKER = `${CREATED_MARKER_PREFIX}TABLE`;

/** A chain the iptables mode creates: a fixed one, a KUBE-SVC-/SVL-/EXT-/FW-/SEP- chain, or a creation marker. */
export function isIptablesModeChain(chain: string): boolean {
  return IPTABLES_FIXED_CHAINS.includes(chain) || isServiceChainName(chain) || chain.startsWith(CREATED_MARKER_PREFIX);
}

/** Whether `iptables` is the nf_tables variant (iptables-nft), where tables and built-in chains appear on first use. */
export async function usesNfTablesBackend(runner: CommandRunner): Promise<boolean> {
  const version = await runner.run('iptables', ['--version']);
  return version.code === 0 && version.stdout.includes('nf_tables');
}

async function nftTables(runner: CommandRunner): Promise<Set<string>> {
  const r = await runner.run('nft', ['list', 'tables', 'ip']);
  if (r.code !== 0) return new Set();
  return new Set(
    r.stdout
      .split('\n')
      .map((l) => l.trim().replace(/^table ip /, ''))
      .filter(Boolean),
  );
}

/** A jump as `iptables -S` prints it (and iptables-restore reads it): arguments with spaces quoted. */
export function canonicalJump(jump: IptablesJumpRule): string {
  return `-A ${jump.chain} ${jump.rule.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}`;
}

/**
 * Makes `jumps` the first rules of their built-in chains, in their order, leaving every
 * other rule where it is: one `iptables -S` per chain, then (only if something is
 * missing or out of place) one iptables-restore per table that deletes our misplaced
 * jumps and inserts them at the top. Docker re-inserts its own rules at the top of
 * FORWARD and friends when it creates a network, and its ACCEPTs would bypass our
 * REJECTs, hence "first". With the nf_tables backend a built-in chain that did not
 * exist before gets a creation marker. Jumps listed earlier end up higher.
 */
export async function ensureIptablesJumps(
  runner: CommandRunner,
  jumps: readonly IptablesJumpRule[],
  nfTables: boolean,
  createdTables: ReadonlySet<string> = new Set(),
): Promise<void> {
  for (const table of TABLES) {
    const chains = [...new Set(jumps.filter((j) => j.table === table).map((j) => j.chain))];
    // A table this sync's restore created gets its marker here, in the same restore.
    const created = createdTables.has(table);
    const head: string[] = created ? [`:${CREATED_TABLE_MARKER} - [0:0]`] : [];
    const edits: string[] = [];
    for (const chain of chains) {
      const wanted = jumps.filter((j) => j.table === table && j.chain === chain).map(canonicalJump);
      const listed = await runChecked(runner, 'iptables', ['-w', '-t', table, '-S', chain]);
      const rules = listed.stdout.split('\n').filter((l) => l.startsWith('-A '));
      if (wanted.every((w, i) => rules[i] === w)) continue;
      // In a table that did not exist before this sync, no built-in chain did either.
      const existed = !nfTables || rules.length > 0 || (!created && (await runner.run('nft', ['list', 'chain', 'ip', table, chain])).code === 0);
      if (!existed) head.push(`:${CREATED_MARKER_PREFIX}${chain} - [0:0]`);
      for (const rule of rules) if (wanted.includes(rule)) edits.push(`-D${rule.slice(2)}`);
      // Inserted at the top one after another: the last inserted ends up first.
      for (const w of [...wanted].reverse()) edits.push(`-I ${chain} 1${w.slice(3 + chain.length)}`);
    }
    if (head.length === 0 && edits.length === 0) continue;
    const input = [`*${table}`, ...head, ...edits, 'COMMIT', ''].join('\n');
    await runChecked(runner, 'iptables-restore', ['-w', '--noflush'], { input, timeoutMs: NO_TIMEOUT });
  }
}

/** iptables-restore refused the ruleset; nothing of it was applied. */
export class IptablesRestoreError extends Error {
  constructor(
    message: string,
    override readonly cause: HostCommandError,
  ) {
    super(message, { cause });
    this.name = 'IptablesRestoreError';
  }
}

/** The mode cannot run on this host (no iptables binary). */
export class ProxyModeUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxyModeUnavailableError';
  }
}

export interface IptablesBackendOptions {
  runner?: CommandRunner;
  logger?: Logger;
}

/** The names of the chains in one table, from `iptables-save -t <table>` (one read of the table). */
export async function listIptablesChains(runner: CommandRunner, table: 'nat' | 'filter'): Promise<Set<string>> {
  const { stdout } = await runChecked(runner, 'iptables-save', ['-t', table], { timeoutMs: NO_TIMEOUT });
  const chains = new Set<string>();
  for (const line of stdout.split('\n')) {
    if (line.startsWith(':')) chains.add(line.slice(1, line.indexOf(' ') > 0 ? line.indexOf(' ') : undefined));
  }
  return chains;
}

/** Points at the rule iptables-restore refused, so an operator sees the rule itself. */
function explainRestoreFailure(err: HostCommandError, input: string): string {
  const stderr = err.result.stderr;
  let detail = stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('Try '))
    .slice(0, 3)
    .join('; ');
  const lines = input.split('\n');
  // The nf_tables backend reports the table's COMMIT line; the message names the chain.
  const missing = /Chain '([^']+)' does not exist/.exec(stderr);
  const at = /(?:at line: |line )(\d+)/.exec(stderr);
  const offending = missing
    ? lines.find((l) => l.endsWith(` -j ${missing[1]}`) || l.includes(` -j ${missing[1]} `) || l.startsWith(`-A ${missing[1]} `))
    : at
      ? lines[Number(at[1]) - 1]
      : undefined;
  if (offending && offending !== 'COMMIT') detail += ` (rule: ${offending})`;
  return `iptables-restore refused the ruleset (exit ${err.result.code}): ${detail}; the previous rules stay in place and the next sync is full`;
}

export class IptablesBackend implements ProxyBackend {
  readonly mode = 'iptables' as const;
  private readonly runner: CommandRunner;
  private readonly logger: Logger;
  /** Our nat chains in the kernel after the last successful sync; undefined = not known yet. */
  private chains?: Set<string>;
  private needFull = true;
  private lastState?: ProxyState;
  private nfTables?: boolean;

  constructor(options: IptablesBackendOptions = {}) {
    this.runner = options.runner ?? hostCommands;
    this.logger = options.logger ?? silentLogger;
  }

  async start(): Promise<void> {
    const version = await this.runner.run('iptables', ['--version']);
    if (version.code !== 0) {
      throw new ProxyModeUnavailableError(
        `iptables mode needs the iptables tools (iptables, iptables-restore, iptables-save) on PATH: ${version.stderr.trim() || `exit ${version.code}`}`,
      );
    }
    this.nfTables = version.stdout.includes('nf_tables');
    this.logger.debug({ version: version.stdout.trim() }, 'iptables backend ready');
  }

  async sync(state: ProxyState, changed: Set<string> | 'full'): Promise<BackendSyncResult> {
    let full = changed === 'full' || this.needFull || this.chains === undefined;
    if (!full && !(await this.canaryPresent())) {
      this.logger.warn({ chain: KUBE_PROXY_CANARY }, 'iptables canary chain is gone (someone flushed our tables): rewriting every rule');
      full = true;
    }
    // After a failed restore nat may hold the new chains while filter was refused (each
    // table is its own transaction): the full sync that follows reads what is really
    // there, so stale chains are still deleted.
    const previousChains = full && (this.chains === undefined || this.needFull) ? await this.readOwnedNatChains() : this.chains;
    const rules = buildIptablesRules(state, full ? { previousChains } : { changed: changed as Set<string>, previousChains });
    const input = rules.nat + rules.filter;
    this.nfTables ??= await usesNfTablesBackend(this.runner);
    // Only a first full sync on this node can create a table: once our nat chains exist,
    // both tables have been there (with their markers, if we made them) since. Listing
    // the tables costs nft a read of the whole ruleset (~1 s at 10,000 Services).
    const tablesBefore = full && this.nfTables && (previousChains?.size ?? 0) === 0 ? await nftTables(this.runner) : undefined;
    try {
      await runChecked(this.runner, 'iptables-restore', ['-w', '--noflush'], { input, timeoutMs: NO_TIMEOUT, discardStdout: true });
    } catch (err) {
      this.needFull = true;
      if (err instanceof HostCommandError) throw new IptablesRestoreError(explainRestoreFailure(err, input), err);
      throw err;
    }
    this.chains = rules.chains;
    this.lastState = state;
    // The jumps are ensured after the restore: they need our chains to exist. They are
    // re-checked on every full sync so a removed jump is repaired within maxSyncPeriod.
    if (full) {
      try {
        const createdTables = new Set(TABLES.filter((t) => tablesBefore !== undefined && !tablesBefore.has(t)));
        await ensureIptablesJumps(this.runner, iptablesJumpRules(), this.nfTables, createdTables);
      } catch (err) {
        this.needFull = true;
        throw err;
      }
    }
    this.needFull = false;
    return { rules: rules.ruleCount, full };
  }

  async cleanup(): Promise<void> {
    await cleanupIptablesRules(this.runner, this.logger);
    this.chains = undefined;
    this.needFull = true;
  }

  describe(key: string): string[] {
    const state = this.lastState;
    const info = state?.services.get(key);
    if (!state || !info) return [];
    // Regenerated for this Service alone: the same pure function wrote the kernel's
    // copy, so this is what is installed, without keeping megabytes of text around.
    const one = buildIptablesRules({ ...state, services: new Map([[serviceKey(info), info]]) });
    const out: string[] = [];
    for (const [table, text] of [
      ['nat', one.nat],
      ['filter', one.filter],
    ] as const) {
      for (const line of text.split('\n')) {
        if (!line.startsWith('-A ')) continue;
        const chain = line.slice(3, line.indexOf(' ', 3));
        if (chain === KUBE_POSTROUTING || chain === KUBE_MARK_MASQ || chain === KUBE_FORWARD || chain === KUBE_PROXY_CANARY) continue;
        if (chain === KUBE_SERVICES && line.endsWith(`-j ${KUBE_NODEPORTS}`)) continue;
        out.push(`-t ${table} ${line}`);
      }
    }
    return out;
  }

  private async canaryPresent(): Promise<boolean> {
    for (const table of IPTABLES_CANARY_TABLES) {
      const r = await this.runner.run('iptables', ['-w', '-t', table, '-C', KUBE_PROXY_CANARY, ...IPTABLES_CANARY_RULE]);
      if (r.code !== 0) return false;
    }
    return true;
  }

  private async readOwnedNatChains(): Promise<Set<string>> {
    const all = await listIptablesChains(this.runner, 'nat');
    return new Set([...all].filter(isIptablesModeChain));
  }
}

// ---- cleanup ----

/** One `-A` line of iptables-save: its chain and jump/goto target. */
function ruleChainAndTarget(line: string): { chain: string; target?: string } {
  const chain = line.slice(3, line.indexOf(' ', 3) > 0 ? line.indexOf(' ', 3) : undefined);
  const m = / -[jg] (\S+)/.exec(line);
  return { chain, target: m?.[1] };
}

/**
 * Removes every chain of ours (`isOursIn`) from nat and filter, with every rule
 * elsewhere that jumps into one, in one restore transaction per table. Found by
 * reading iptables-save, so it also removes what an earlier run (or a crashed one)
 * left. Returns, per table that had something of ours, the chains removed.
 */
export async function removeIptablesChains(
  runner: CommandRunner,
  isOursIn: (table: 'nat' | 'filter', chain: string) => boolean,
): Promise<Map<'nat' | 'filter', string[]>> {
  const removed = new Map<'nat' | 'filter', string[]>();
  for (const table of TABLES) {
    const isOurs = (chain: string) => isOursIn(table, chain);
    const save = await runner.run('iptables-save', ['-t', table], { timeoutMs: NO_TIMEOUT });
    if (save.code !== 0) {
      if (save.code === 127) return removed; // no iptables at all: nothing of ours can exist
      throw new HostCommandError('iptables-save', ['-t', table], save);
    }
    const ours: string[] = [];
    const jumps: string[] = [];
    for (const line of save.stdout.split('\n')) {
      if (line.startsWith(':')) {
        const name = line.slice(1, line.indexOf(' '));
        if (isOurs(name)) ours.push(name);
      } else if (line.startsWith('-A ')) {
        const { chain, target } = ruleChainAndTarget(line);
        if (!isOurs(chain) && target !== undefined && isOurs(target)) jumps.push(`-D ${line.slice(3)}`);
      }
    }
    if (ours.length === 0 && jumps.length === 0) continue;
    // Declaring a chain with --noflush empties it, so the -X lines cannot fail on rules
    // (or references between our own chains) still inside.
    const input = [
      `*${table}`,
      // A command naming no chain, so iptables-nft keeps no sorted list of the 60,000
      // names below (see iptables-rules.ts); its listing is discarded.
      '-S',
      ...ours.map((c) => `:${c} - [0:0]`),
      ...jumps,
      ...ours.map((c) => `-X ${c}`),
      'COMMIT',
      '',
    ].join('\n');
    await runChecked(runner, 'iptables-restore', ['-w', '--noflush'], { input, timeoutMs: NO_TIMEOUT, discardStdout: true });
    removed.set(table, ours);
  }
  return removed;
}

/**
 * Removes the built-in chains and the table our markers say we caused to exist, each
 * only if nothing else has been put in it since (an empty accept-policy base chain
 * does nothing; iptables recreates it when next needed).
 */
async function removeMarkedLeftovers(runner: CommandRunner, table: 'nat' | 'filter', markers: string[]): Promise<void> {
  const builtins = new Set(markers.filter((m) => m !== CREATED_TABLE_MARKER).map((m) => m.slice(CREATED_MARKER_PREFIX.length)));
  const tableMarked = markers.includes(CREATED_TABLE_MARKER);
  if (builtins.size === 0 && !tableMarked) return;
  const listed = await runner.run('nft', ['-j', 'list', 'table', 'ip', table]);
  if (listed.code !== 0) return;
  let items: Array<Record<string, unknown>>;
  try {
    items = (JSON.parse(listed.stdout) as { nftables: Array<Record<string, unknown>> }).nftables;
  } catch {
    return;
  }
  const chains: Array<{ name: string; hook?: string; policy?: string }> = [];
  const ruleCount = new Map<string, number>();
  let others = 0;
  for (const item of items) {
    const chain = item['chain'] as { name: string; hook?: string; policy?: string } | undefined;
    const rule = item['rule'] as { chain: string } | undefined;
    if (chain) chains.push(chain);
    else if (rule) ruleCount.set(rule.chain, (ruleCount.get(rule.chain) ?? 0) + 1);
    else if (!('table' in item) && !('metainfo' in item)) others++;
  }
  let left = chains.length;
  for (const c of chains) {
    if (!builtins.has(c.name) || c.hook === undefined || c.policy !== 'accept' || (ruleCount.get(c.name) ?? 0) > 0) continue;
    if ((await runner.run('nft', ['delete', 'chain', 'ip', table, c.name])).code === 0) left--;
  }
  if (tableMarked && left === 0 && others === 0) await runner.run('nft', ['delete', 'table', 'ip', table]);
}

/**
 * Removes the chains `isOursIn` picks from nat and filter with the jumps into them
 * and, with the nf_tables backend, the built-in chains and tables that exist only
 * because of us (see CREATED_MARKER_PREFIX). Idempotent. Default: everything the
 * iptables mode writes.
 */
export async function cleanupIptablesRules(
  runner: CommandRunner,
  logger: Logger = silentLogger,
  isOursIn: (table: 'nat' | 'filter', chain: string) => boolean = (_t, c) => isIptablesModeChain(c),
): Promise<void> {
  const removed = await removeIptablesChains(runner, isOursIn);
  if (removed.size === 0) return;
  logger.info({ tables: [...removed.keys()] }, 'removed the proxy iptables chains');
  for (const [table, chains] of removed) {
    const markers = chains.filter((c) => c.startsWith(CREATED_MARKER_PREFIX));
    if (markers.length > 0) await removeMarkedLeftovers(runner, table, markers);
  }
}
