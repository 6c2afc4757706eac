import { describe, expect, it } from 'vitest';
import { isTerminalPhase } from '../../../agent/api/terminal-phase.js';
import type { PodPhase } from '../../../agent/api/types.js';

describe('isTerminalPhase', () => {
  it('is true only for Succeeded and Failed', () => {
    expect(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown', undefined].map((p) => isTerminalPhase(p as PodPhase | undefined))).toEqual([
      false,
      false,
      true,
      true,
      false,
      false,
    ]);
  });
});
