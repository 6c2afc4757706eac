// The nftables backend: buildNftablesRuleset's script into the kernel as one `nft -f -`
// transaction per sync, in our own `ip nodelet` table only. What the table holds is
// kept in memory (NftablesState) from the last transaction that succeeded; nothing is
// read back. A failed transaction changed nothing, but the next sync recreates the
// table from nothing rather than trust the record.
import type { Logger } from '../../log/logger.js';
import { silentLogger } from '../../log/logger.js';
import { HostCommandError, hostCommands, NO_TIMEOUT, runChecked, type CommandRunner } from './host-command.js';
import { ProxyModeUnavailableError } from './iptables-applier.js';
import { buildNftablesRuleset, NFT_FAMILY, NFT_TABLE, nftablesCleanupScript, type NftablesState } from './nftables-rules.js';
import type { BackendSyncResult, ProxyBackend } from './proxy-backend.js';
import { serviceKey, type ProxyState } from './service-model.js';

/** nft refused the transaction; nothing of it was applied. */
export class NftablesApplyError extends Error {
  constructor(
    message: string,
    override readonly cause: HostCommandError,
  ) {
    super(message, { cause });
    this.name = 'NftablesApplyError';
  }
}

/** nft names the failing statement as "/dev/stdin:LINE:COL-COL: Error: …"; show that statement. */
function explainNftFailure(err: HostCommandError, script: string): string {
  const stderr = err.result.stderr.trim();
  const m = /(?:stdin|-):(\d+):\d+/.exec(stderr);
  let detail = stderr.split('\n').slice(0, 4).join('; ');
  if (m) {
    const line = script.split('\n')[Number(m[1]) - 1];
    if (line !== undefined && !detail.includes(line)) detail += ` (line ${m[1]}: ${line.length > 300 ? `${line.slice(0, 300)}…` : line})`;
  }
  return `nft refused the ${NFT_FAMILY} ${NFT_TABLE} transaction (exit ${err.result.code}): ${detail}; the previous rules stay in place and the next sync rebuilds the table`;
}

/** Deletes our table (every chain, map and set in it). Idempotent; a host without nft has nothing to delete. */
export async function deleteNftablesTable(runner: CommandRunner, logger: Logger = silentLogger): Promise<void> {
  const listed = await runner.run('nft', ['list', 'tables', NFT_FAMILY]);
  if (listed.code === 127) return;
  if (listed.code === 0 && !listed.stdout.split('\n').some((l) => l.trim() === `table ${NFT_FAMILY} ${NFT_TABLE}`)) return;
  await runChecked(runner, 'nft', ['-f', '-'], { input: nftablesCleanupScript(), timeoutMs: NO_TIMEOUT });
  logger.info({ table: `${NFT_FAMILY} ${NFT_TABLE}` }, 'removed the proxy nftables table');
}

export interface NftablesBackendOptions {
  runner?: CommandRunner;
  logger?: Logger;
}

export class NftablesBackend implements ProxyBackend {
  readonly mode = 'nftables' as const;
  private readonly runner: CommandRunner;
  private readonly logger: Logger;
  /** The table as the last successful transaction left it; undefined = unknown, rebuild from nothing. */
  private record?: NftablesState;
  private lastState?: ProxyState;

  constructor(options: NftablesBackendOptions = {}) {
    this.runner = options.runner ?? hostCommands;
    this.logger = options.logger ?? silentLogger;
  }

  async start(): Promise<void> {
    const version = await this.runner.run('nft', ['--version']);
    if (version.code !== 0) {
      throw new ProxyModeUnavailableError(`nftables mode needs the nft tool on PATH: ${version.stderr.trim() || `exit ${version.code}`}`);
    }
    // Listing proves the kernel speaks nf_tables (and that we may use it), before any rule is due.
    const probe = await this.runner.run('nft', ['list', 'tables']);
    if (probe.code !== 0) {
      throw new ProxyModeUnavailableError(`nftables mode cannot talk to the kernel's nf_tables: ${probe.stderr.trim() || `exit ${probe.code}`}`);
    }
  }

  async sync(state: ProxyState, changed: Set<string> | 'full'): Promise<BackendSyncResult> {
    const previous = this.record;
    const result = buildNftablesRuleset(state, changed === 'full' || !previous ? { previous } : { changed, previous });
    if (result.cleanupScript) {
      // Deferred chain deletes: harmless if they fail, the chains are empty and unreferenced.
      const r = await this.runner.run('nft', ['-f', '-'], { input: result.cleanupScript, timeoutMs: NO_TIMEOUT });
      if (r.code !== 0) this.logger.debug({ err: r.stderr.trim() }, 'nft deferred chain cleanup failed; retried next sync');
    }
    if (result.script) {
      try {
        await runChecked(this.runner, 'nft', ['-f', '-'], { input: result.script, timeoutMs: NO_TIMEOUT });
      } catch (err) {
        this.record = undefined;
        if (err instanceof HostCommandError) throw new NftablesApplyError(explainNftFailure(err, result.script), err);
        throw err;
      }
    }
    this.record = result.adopt();
    this.lastState = state;
    return { rules: result.ruleCount, full: result.full };
  }

  async cleanup(): Promise<void> {
    await deleteNftablesTable(this.runner, this.logger);
    this.record = undefined;
  }

  describe(key: string): string[] {
    const record = this.record?.services.get(key);
    const info = this.lastState?.services.get(key);
    if (!record || !info || !this.lastState) return [];
    // Regenerated for this Service alone from the same pure function that wrote the
    // kernel's copy; only the lines naming its own chains, sets and elements are kept.
    const one = buildNftablesRuleset({ ...this.lastState, services: new Map([[serviceKey(info), info]]) });
    const own = new Set([...record.chains, ...record.affinitySets.keys()]);
    const prefix = `add rule ${NFT_FAMILY} ${NFT_TABLE} `;
    const out: string[] = [];
    for (const line of one.script.split('\n')) {
      if (line.startsWith(prefix)) {
        const chain = line.slice(prefix.length, line.indexOf(' ', prefix.length));
        if (own.has(chain)) out.push(line);
      } else if (line.startsWith('add set ')) {
        out.push(line);
      }
    }
    // From the record, not the regenerated script: an address two Services claim
    // belongs to the first, and only the record knows which one that was.
    for (const e of record.elements) out.push(`add element ${NFT_FAMILY} ${NFT_TABLE} ${e.map} { ${e.key} : ${e.value} }`);
    return out;
  }
}
