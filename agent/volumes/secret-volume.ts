// secret volume: the Secret's keys as files on a tmpfs of its own, so secret bytes
// never touch the node's disk; written atomically and refreshed on every sync.
// Nothing here logs, and no message carries a secret's content.
import { tearDownPayloadDir } from './atomic-writer.js';
import { setUpKeyedObjectVolume } from './keyed-object-volume.js';
import { toVolumeError } from './payload.js';
import type { KeyedObject, MountedVolume, VolumeKind, VolumeSetUpContext } from './types.js';

/** Reads a Secret of the pod's namespace; a transport failure becomes a VolumeError. */
export async function readSecret(ctx: VolumeSetUpContext, name: string): Promise<KeyedObject | undefined> {
  try {
    return await ctx.objects.secret(ctx.pod.metadata.namespace ?? 'default', name);
  } catch (err) {
    throw toVolumeError(err, `failed to get secret "${name}"`);
  }
}

export class SecretVolume implements VolumeKind {
  readonly kind = 'secret';

  setUp(ctx: VolumeSetUpContext): Promise<MountedVolume> {
    const source = ctx.volume.secret ?? {};
    return setUpKeyedObjectVolume(ctx, {
      kind: 'secret',
      field: 'secret',
      name: source.secretName ?? '',
      items: source.items,
      defaultMode: source.defaultMode,
      optional: source.optional,
      read: (name) => readSecret(ctx, name),
      tmpfs: true,
    });
  }

  async tearDown(dir: string): Promise<void> {
    await tearDownPayloadDir(dir);
  }
}
