// volumeMounts → what to bind where, before any file is touched. Pure: the pod
// worker resolves subPaths (on the host, race-safely) only after this accepted
// the container's mounts. Mistakes are CreateContainerConfigErrors naming the field.
import { posix } from 'node:path';
import type { Container, Pod } from '../api/types.js';
import { podKey } from '../api/types.js';
import { CreateContainerConfigError } from '../api/pod-errors.js';
import { expand, lookupIn } from '../api/env-expansion.js';
import type { Mount } from '../runtime/runtime.js';
import type { MountedVolume } from './types.js';

export interface PlannedMount {
  /** Index in the container's volumeMounts (names the subPath bind target). */
  index: number;
  volumeName: string;
  containerPath: string;
  /** Host path of the volume's root. */
  volumeRoot: string;
  /** Relative path inside the volume; '' = the whole volume. */
  subPath: string;
  readOnly: boolean;
  propagation: Mount['propagation'];
}

const PROPAGATION: Record<string, Mount['propagation']> = {
  None: 'private',
  HostToContainer: 'rslave',
  Bidirectional: 'rshared',
};

function containerField(pod: Pod, container: Container): string {
  const i = pod.spec.containers.indexOf(container);
  if (i >= 0) return `spec.containers[${i}]`;
  const j = (pod.spec.initContainers ?? []).indexOf(container);
  return j >= 0 ? `spec.initContainers[${j}]` : `container ${container.name}`;
}

/**
 * Plans the container's volume mounts. `env` is the container's environment, the
 * only source of `$(VAR)` in subPathExpr (as in kubelet). Throws when a mount names
 * no volume, two mounts share a path, or a subPath is absolute or climbs out.
 */
export function planVolumeMounts(
  pod: Pod,
  container: Container,
  env: ReadonlyMap<string, string>,
  volumes: ReadonlyMap<string, MountedVolume>,
): PlannedMount[] {
  const where = containerField(pod, container);
  const fail = (field: string, detail: string) =>
    new CreateContainerConfigError({ pod: podKey(pod), container: container.name, field: `${where}.${field}`, detail });
  const seen = new Map<string, number>();
  const planned: PlannedMount[] = [];
  (container.volumeMounts ?? []).forEach((m, index) => {
    const field = `volumeMounts[${index}]`;
    const volume = volumes.get(m.name);
    if (!volume) throw fail(`${field}.name`, `volume "${m.name}" is not defined in spec.volumes`);
    if (!m.mountPath?.startsWith('/')) throw fail(`${field}.mountPath`, `"${m.mountPath}" must be an absolute path`);
    const containerPath = posix.normalize(m.mountPath).replace(/(.)\/$/, '$1');
    const earlier = seen.get(containerPath);
    if (earlier !== undefined) throw fail(`${field}.mountPath`, `"${m.mountPath}" is already mounted by volumeMounts[${earlier}]`);
    seen.set(containerPath, index);
    if (m.subPath && m.subPathExpr) throw fail(field, 'subPath and subPathExpr are mutually exclusive');
    let subPath = m.subPath ?? '';
    let subField = `${field}.subPath`;
    if (m.subPathExpr) {
      subPath = expand(m.subPathExpr, lookupIn(env));
      subField = `${field}.subPathExpr`;
    }
    const problem = subPathProblem(subPath);
    if (problem) throw fail(subField, `"${subPath}" ${problem}`);
    const propagation = PROPAGATION[m.mountPropagation ?? 'None'];
    if (!propagation) throw fail(`${field}.mountPropagation`, `unsupported value "${m.mountPropagation}" (None, HostToContainer, Bidirectional)`);
    planned.push({
      index,
      volumeName: m.name,
      containerPath,
      volumeRoot: volume.hostPath,
      subPath: subPath.replace(/\/+$/, ''),
      readOnly: m.readOnly === true || volume.readOnly,
      propagation,
    });
  });
  return planned;
}

/** Why a subPath may not be used, or undefined when it is a plain relative path. */
export function subPathProblem(subPath: string): string | undefined {
  if (subPath === '') return undefined;
  if (subPath.includes('\0')) return 'contains a NUL byte';
  if (subPath.startsWith('/')) return 'must be a relative path';
  if (subPath.split('/').some((s) => s === '..')) return "must not contain '..'";
  return undefined;
}
