// secret volume: the Secret's keys as files on a tmpfs of its own, so secret bytes
// never touch the node's disk; written atomically and refreshed on every sync.
// Nothing here logs, and no message carries a secret's content.
import { publishPayload, tearDownPayloadDir } from './atomic-writer.js';
import { defaultModeOf, keyedObjectPayload, toVolumeError } from './payload.js';
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

  async setUp(ctx: VolumeSetUpContext): Promise<MountedVolume> {
    const source = ctx.volume.secret ?? {};
    const name = source.secretName ?? '';
    // Fetched before anything is mounted: a missing secret leaves nothing behind.
    const object = await readSecret(ctx, name);
    try {
      const payload = keyedObjectPayload({
        kind: 'secret', name, object, optional: source.optional === true,
        defaultMode: defaultModeOf(source.defaultMode, 'secret.defaultMode'),
        ...(source.items ? { items: source.items } : {}),
        field: 'secret',
      });
      const fsGroup = ctx.pod.spec.securityContext?.fsGroup;
      await publishPayload(ctx.dir, payload, { tmpfs: true, ...(fsGroup !== undefined ? { fsGroup } : {}) });
    } catch (err) {
      throw toVolumeError(err, `writing secret "${name}" into ${ctx.dir}`);
    }
    return { hostPath: ctx.dir, readOnly: true, dynamic: true };
  }

  async tearDown(dir: string): Promise<void> {
    await tearDownPayloadDir(dir);
  }
}
