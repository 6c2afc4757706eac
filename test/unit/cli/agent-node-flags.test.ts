import { describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS, missingAgentNodeFlags } from '../../../agent/cli/agent-node-flags.js';

describe('missingAgentNodeFlags', () => {
  it('asks for every agent flag when the process was started with none', () => {
    expect(missingAgentNodeFlags([])).toEqual([...AGENT_NODE_FLAGS]);
    expect(missingAgentNodeFlags(['--cpu-prof', '--import', 'data:text/javascript,'])).toEqual([...AGENT_NODE_FLAGS]);
  });

  it('asks for nothing once the process has them (no relaunch loop)', () => {
    expect(missingAgentNodeFlags([...AGENT_NODE_FLAGS])).toEqual([]);
  });

  it("leaves an operator's own setting alone, on the command line or in NODE_OPTIONS, in either spelling", () => {
    expect(missingAgentNodeFlags(['--max-semi-space-size=16'])).toEqual([]);
    expect(missingAgentNodeFlags(['--max_semi_space_size=16'])).toEqual([]);
    expect(missingAgentNodeFlags([], '--max-old-space-size=256 --max-semi-space-size=8')).toEqual([]);
  });
});
