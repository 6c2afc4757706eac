import { describe, expect, it } from 'vitest';
import { containerFromLabels, orphanPodFromLabels } from '../../../agent/pods/pod-from-labels.js';
import { LABEL_CONTAINER_PORTS, LABEL_PRESTOP_HANDLER, LABEL_TERMINATION_GRACE } from '../../../agent/runtime/labels.js';

describe('orphanPodFromLabels', () => {
  it('takes the grace period from the labels, 30 s when missing or unreadable', () => {
    expect(orphanPodFromLabels('u1', { [LABEL_TERMINATION_GRACE]: '5' }, 'web', 'prod')).toEqual({
      metadata: { name: 'web', namespace: 'prod', uid: 'u1' },
      spec: { containers: [], terminationGracePeriodSeconds: 5 },
    });
    expect(orphanPodFromLabels('u1', {}, 'web', 'prod').spec.terminationGracePeriodSeconds).toBe(30);
    expect(orphanPodFromLabels('u1', { [LABEL_TERMINATION_GRACE]: 'soon' }, 'web', 'prod').spec.terminationGracePeriodSeconds).toBe(30);
  });
});

describe('containerFromLabels', () => {
  it('rebuilds the preStop hook and ports an orphan needs to stop', () => {
    const preStop = { exec: { command: ['sh', '-c', 'sleep 1'] } };
    const ports = [{ containerPort: 8080 }];
    expect(containerFromLabels('main', { [LABEL_PRESTOP_HANDLER]: JSON.stringify(preStop), [LABEL_CONTAINER_PORTS]: JSON.stringify(ports) })).toEqual({
      name: 'main',
      image: '',
      lifecycle: { preStop },
      ports,
    });
  });

  it('gives nothing without a hook, or with a label edited into bad JSON', () => {
    expect(containerFromLabels('main', {})).toBeUndefined();
    expect(containerFromLabels('main', { [LABEL_PRESTOP_HANDLER]: '{not json' })).toBeUndefined();
  });
});
