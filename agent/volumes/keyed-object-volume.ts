// What configMap and secret volumes share: read the object, project its keys (items,
// modes, optional) into a payload and publish it atomically — on disk for a
// ConfigMap, on a tmpfs of its own for a Secret. The object is fetched before
// anything is created or mounted, so a missing one leaves nothing behind.
import type { KeyToPath } from '../api/types.js';
import { publishPayload } from './atomic-writer.js';
import { defaultModeOf, keyedObjectPayload, toVolumeError } from './payload.js';
import type { KeyedObject, MountedVolume, VolumeSetUpContext } from './types.js';

export interface KeyedObjectSource {
  kind: 'configmap' | 'secret';
  /** The Volume field: 'configMap' or 'secret'. */
  field: 'configMap' | 'secret';
  name: string;
  items?: KeyToPath[];
  defaultMode?: number;
  optional?: boolean;
  /** Reads the object; a transport failure is already a VolumeError. */
  read: (name: string) => Promise<KeyedObject | undefined>;
  tmpfs: boolean;
}

export async function setUpKeyedObjectVolume(ctx: VolumeSetUpContext, source: KeyedObjectSource): Promise<MountedVolume> {
  const { kind, field, name } = source;
  const object = await source.read(name);
  try {
    const payload = keyedObjectPayload({
      kind,
      name,
      object,
      optional: source.optional === true,
      defaultMode: defaultModeOf(source.defaultMode, `${field}.defaultMode`),
      ...(source.items ? { items: source.items } : {}),
      field,
    });
    const fsGroup = ctx.pod.spec.securityContext?.fsGroup;
    await publishPayload(ctx.dir, payload, { tmpfs: source.tmpfs, ...(fsGroup !== undefined ? { fsGroup } : {}) });
  } catch (err) {
    throw toVolumeError(err, `writing ${kind} "${name}" into ${ctx.dir}`);
  }
  return { hostPath: ctx.dir, readOnly: true, dynamic: true };
}
