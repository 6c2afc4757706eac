// hostPath: a path of the node itself. The agent checks its type (and creates it
// for the *OrCreate types) but never changes or removes what is there.
import { constants } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { hostPathRefusal, type AllowedHostPath } from './host-path-policy.js';
import { VolumeError, type MountedVolume, type VolumeKind, type VolumeSetUpContext } from './types.js';

const TYPES = new Set<string>(['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice']);

type Found = 'nothing' | 'a directory' | 'a regular file' | 'a socket' | 'a character device' | 'a block device' | 'a symbolic link' | 'a FIFO';

async function whatIsAt(path: string): Promise<Found> {
  let st;
  try {
    st = await stat(path);
  } catch {
    return 'nothing';
  }
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  return 'a symbolic link';
}

const WANTED: Record<string, Found> = {
  Directory: 'a directory',
  DirectoryOrCreate: 'a directory',
  File: 'a regular file',
  FileOrCreate: 'a regular file',
  Socket: 'a socket',
  CharDevice: 'a character device',
  BlockDevice: 'a block device',
};

/**
 * Makes sure `path` is of `type`, creating it for the *OrCreate types (a directory
 * 0755 with its parents; a file 0644 whose parent must exist). The message of a
 * mismatch names the path, the type wanted and what was found.
 */
export async function checkHostPathType(volumeName: string, path: string, type: string): Promise<void> {
  if (!TYPES.has(type)) throw new VolumeError(`hostPath volume "${volumeName}": unsupported type "${type}"`);
  if (type === '') return;
  const wanted = WANTED[type]!;
  let found = await whatIsAt(path);
  if (found === 'nothing' && type === 'DirectoryOrCreate') {
    await mkdir(path, { recursive: true, mode: 0o755 });
    found = await whatIsAt(path);
  }
  if (found === 'nothing' && type === 'FileOrCreate') {
    if ((await whatIsAt(dirname(path))) !== 'a directory') {
      throw new VolumeError(`hostPath type check failed: ${path} (FileOrCreate): parent directory ${dirname(path)} does not exist`);
    }
    // O_EXCL: never truncate or take over something that appeared meanwhile.
    const handle = await open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return undefined;
      throw new VolumeError(`hostPath volume "${volumeName}": cannot create ${path}: ${err.message}`);
    });
    await handle?.close();
    found = await whatIsAt(path);
  }
  if (found !== wanted) {
    throw new VolumeError(`hostPath type check failed: ${path} is not ${wanted} as type ${type} requires (found ${found})`);
  }
}

export class HostPathVolume implements VolumeKind {
  readonly kind = 'hostPath';

  constructor(private readonly allowed: readonly AllowedHostPath[]) {}

  async setUp(ctx: VolumeSetUpContext): Promise<MountedVolume> {
    const source = ctx.volume.hostPath;
    const path = source?.path ?? '';
    if (!path.startsWith('/')) throw new VolumeError(`hostPath volume "${ctx.volume.name}": path "${path}" must be absolute`);
    const normalized = posix.normalize(path);
    const refusal = hostPathRefusal(ctx.pod, ctx.volume.name, normalized, this.allowed);
    if (refusal) throw new VolumeError(refusal);
    await checkHostPathType(ctx.volume.name, normalized, source?.type ?? '');
    return { hostPath: normalized, readOnly: false, dynamic: false };
  }

  /** Nothing to do: the host's files are the host's. */
  async tearDown(): Promise<void> {}
}
