// A pod as the sources hand it to the pod manager: defaulted as the apiserver
// defaults it, one busybox container, with whatever spec fields a test adds.
import type { Pod } from '../../agent/api/types.js';

export const BUSYBOX_IMAGE = 'nodelet/busybox:0.1.0';

export function defaultedPod(name: string, spec: Partial<Pod['spec']> = {}): Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      containers: [
        {
          name: 'main',
          image: BUSYBOX_IMAGE,
          imagePullPolicy: 'IfNotPresent',
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      ...spec,
    },
  };
}
