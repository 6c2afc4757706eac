// A pod in a terminal phase has finished for good: its phase never changes back,
// and nothing of it runs again (kubelet's podutil.IsPodPhaseTerminal).
import type { PodPhase } from './types.js';

export function isTerminalPhase(phase: PodPhase | undefined): phase is 'Succeeded' | 'Failed' {
  return phase === 'Succeeded' || phase === 'Failed';
}
