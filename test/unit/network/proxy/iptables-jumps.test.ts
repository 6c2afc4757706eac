import { describe, expect, it } from 'vitest';
import type { CommandOptions, CommandResult, CommandRunner } from '../../../../agent/network/proxy/host-command.js';
import { canonicalJump, ensureIptablesJumps } from '../../../../agent/network/proxy/iptables-applier.js';
import type { IptablesJumpRule } from '../../../../agent/network/proxy/iptables-rules.js';

const jumps: IptablesJumpRule[] = [
  { table: 'filter', chain: 'FORWARD', rule: ['-m', 'comment', '--comment', 'kubernetes forwarding rules', '-j', 'KUBE-FORWARD'] },
  { table: 'filter', chain: 'FORWARD', rule: ['-m', 'conntrack', '--ctstate', 'NEW', '-j', 'KUBE-SERVICES'] },
  { table: 'nat', chain: 'PREROUTING', rule: ['-j', 'KUBE-SERVICES'] },
];

/** Answers `iptables -S` from `chains`, `nft list chain` from `existing`, and records restores. */
function runner(chains: Record<string, string[]>, existing: string[] = []): CommandRunner & { restores: string[]; calls: number } {
  const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });
  const r = {
    restores: [] as string[],
    calls: 0,
    async run(command: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult> {
      r.calls++;
      if (command === 'iptables' && args.includes('-S')) {
        const key = `${args[args.indexOf('-t') + 1]} ${args.at(-1)}`;
        return ok([`-P ${args.at(-1)} ACCEPT`, ...(chains[key] ?? [])].join('\n'));
      }
      if (command === 'nft') return existing.includes(`${args[3]} ${args[4]}`) ? ok() : { code: 1, stdout: '', stderr: 'No such file or directory' };
      if (command === 'iptables-restore') {
        r.restores.push(options?.input ?? '');
        return ok();
      }
      throw new Error(`unexpected ${command} ${args.join(' ')}`);
    },
  };
  return r;
}

describe('ensureIptablesJumps', () => {
  it('writes nothing when our jumps already lead their chains in order', async () => {
    const r = runner({
      'filter FORWARD': [canonicalJump(jumps[0]!), canonicalJump(jumps[1]!), '-A FORWARD -j DOCKER-USER'],
      'nat PREROUTING': [canonicalJump(jumps[2]!)],
    });
    await ensureIptablesJumps(r, jumps, true);
    expect(r.restores).toEqual([]);
    expect(r.calls).toBe(2);
  });

  it('inserts missing jumps at the top in one restore per table, marking a built-in chain it creates', async () => {
    const r = runner({}, ['filter FORWARD']);
    await ensureIptablesJumps(r, jumps, true);
    expect(r.restores).toEqual([
      ['*nat', ':NODELET-NEW-PREROUTING - [0:0]', '-I PREROUTING 1 -j KUBE-SERVICES', 'COMMIT', ''].join('\n'),
      [
        '*filter',
        '-I FORWARD 1 -m conntrack --ctstate NEW -j KUBE-SERVICES',
        '-I FORWARD 1 -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        'COMMIT',
        '',
      ].join('\n'),
    ]);
  });

  it('moves our jumps back above rules Docker put on top, touching no other rule', async () => {
    const r = runner({
      'filter FORWARD': ['-A FORWARD -j DOCKER-USER', canonicalJump(jumps[0]!), canonicalJump(jumps[1]!)],
      'nat PREROUTING': [canonicalJump(jumps[2]!)],
    });
    await ensureIptablesJumps(r, jumps, true);
    expect(r.restores).toHaveLength(1);
    expect(r.restores[0]!.split('\n')).toEqual([
      '*filter',
      '-D FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      '-D FORWARD -m conntrack --ctstate NEW -j KUBE-SERVICES',
      '-I FORWARD 1 -m conntrack --ctstate NEW -j KUBE-SERVICES',
      '-I FORWARD 1 -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      'COMMIT',
      '',
    ]);
  });

  it('marks a table the sync created and asks nft about none of its chains', async () => {
    const r = runner({});
    await ensureIptablesJumps(
      r,
      jumps.filter((j) => j.table === 'nat'),
      true,
      new Set(['nat', 'filter']),
    );
    expect(r.restores).toEqual([
      ['*nat', ':NODELET-NEW-TABLE - [0:0]', ':NODELET-NEW-PREROUTING - [0:0]', '-I PREROUTING 1 -j KUBE-SERVICES', 'COMMIT', ''].join('\n'),
      ['*filter', ':NODELET-NEW-TABLE - [0:0]', 'COMMIT', ''].join('\n'),
    ]);
    expect(r.calls).toBe(3);
  });
});
