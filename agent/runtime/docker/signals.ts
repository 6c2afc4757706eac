// Signal names as Docker and Kubernetes write them ("SIGTERM", "TERM", "15") in one form.
import { constants } from 'node:os';

const BY_NUMBER = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** "term", "TERM", "SIGTERM" and "15" all become "SIGTERM"; undefined and "" stay undefined. */
export function normalizeSignal(signal: string | undefined): string | undefined {
  if (signal === undefined || signal.trim() === '') return undefined;
  const s = signal.trim().toUpperCase();
  if (/^\d+$/.test(s)) return BY_NUMBER.get(Number(s)) ?? s;
  return s.startsWith('SIG') ? s : `SIG${s}`;
}

/** Docker stops with the container's StopSignal, SIGTERM when none is set. */
export const DEFAULT_STOP_SIGNAL = 'SIGTERM';
