// Bad input never takes down other pods: an invalid manifest beside valid ones,
// images that cannot be had, and what the operator sees about each.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, containerStatus, podManifest, startTestAgent, type TestAgent } from '../../support/agent-harness.js';

const run = promisify(execFile);
const CLI = ['dist/agent/cli/main.js'];

describe('bad input', () => {
  let node: TestAgent;
  beforeAll(async () => {
    node = await startTestAgent();
  });
  afterAll(async () => {
    await node?.cleanup();
  });

  it('refuses an invalid manifest with the file and field, and runs the valid pods beside it', async () => {
    await node.writeManifest('good.yaml', [podManifest('good', { containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'] }] })]);
    await node.writeManifest('bad.yaml', [
      podManifest('dupes', {
        containers: [
          { name: 'x', image: BUSYBOX },
          { name: 'x', image: BUSYBOX },
        ],
      }),
      podManifest('noimage', { containers: [{ name: 'main' }] }),
      podManifest('badport', { containers: [{ name: 'main', image: BUSYBOX, ports: [{ containerPort: 'eighty' }] }] }),
      podManifest('badgrace', { terminationGracePeriodSeconds: -1, containers: [{ name: 'main', image: BUSYBOX }] }),
    ]);
    await node.writeManifest('broken.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n');
    await node.waitForPod('good', 'Running', (s) => s.phase === 'Running');

    const { stdout } = await run(process.execPath, [...CLI, 'pods', '--node-name', node.config.nodeName, '--root-dir', node.config.rootDir]);
    expect(stdout).toContain(node.staticName('good'));
    expect(stdout).toMatch(/Running/);
    expect(stdout).toContain('Rejected manifests:');
    expect(stdout).toContain('spec.containers[1].name');
    expect(stdout).toContain('spec.containers[0].image');
    expect(stdout).toContain('spec.containers[0].ports[0].containerPort');
    expect(stdout).toContain('spec.terminationGracePeriodSeconds');
    expect(stdout).toContain('broken.yaml');
    expect(node.pod('dupes')).toBeUndefined();

    const json = JSON.parse(
      (await run(process.execPath, [...CLI, 'pods', '-o', 'json', '--node-name', node.config.nodeName, '--root-dir', node.config.rootDir])).stdout,
    ) as Array<{ kind: string; metadata: { name: string }; status: { phase: string; containerStatuses: unknown[] } }>;
    const good = json.find((p) => p.metadata.name === node.staticName('good'));
    expect(good?.kind).toBe('Pod');
    expect(good?.status.phase).toBe('Running');
    expect(good?.status.containerStatuses).toHaveLength(1);
  });

  it('reports ErrImageNeverPull, and ErrImagePull then ImagePullBackOff for an image nobody serves', async () => {
    await node.writeManifest('images.yaml', [
      podManifest('never', { containers: [{ name: 'main', image: 'nodelet/absent:1', imagePullPolicy: 'Never' }] }),
      podManifest('unpullable', { containers: [{ name: 'main', image: '127.0.0.1:5999/none:1' }] }),
      podManifest('badname', { containers: [{ name: 'main', image: 'UPPER/Case:1' }] }),
    ]);
    const never = await node.waitForPod('never', 'ErrImageNeverPull', (s) => containerStatus(s, 'main').state.waiting?.reason === 'ErrImageNeverPull');
    expect(never.phase).toBe('Pending');
    const seen = new Set<string>();
    await node.waitForPod('unpullable', 'ImagePullBackOff', (s) => {
      const r = containerStatus(s, 'main').state.waiting?.reason;
      if (r) seen.add(r);
      return r === 'ImagePullBackOff';
    });
    expect(seen.has('ErrImagePull') || seen.has('ImagePullBackOff')).toBe(true);
    const bad = await node.waitForPod('badname', 'InvalidImageName', (s) => containerStatus(s, 'main').state.waiting?.reason === 'InvalidImageName');
    expect(containerStatus(bad, 'main').state.waiting?.message).toContain('UPPER/Case:1');
    // The healthy pod next to them is untouched.
    expect(node.pod('good')?.status?.phase).toBe('Running');
  });
});
