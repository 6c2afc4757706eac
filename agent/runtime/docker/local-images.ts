// The two images nodelet makes itself from host binaries, so an air-gapped node can
// run pods: the sandbox (pause) image and a small busybox image for examples and
// tests. A root folder is assembled in a temp dir, packed with tar-fs and imported
// through Docker's image import (POST /images/create?fromSrc=-), with the image
// config given as Dockerfile `changes`. Nothing is ever pulled.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { pack, type Headers as TarHeaders, type PackOptions } from 'tar-fs';
import { VERSION } from '../../api/version.js';
import { RuntimeError } from '../errors.js';
import { jsonMessages, progressError } from './json-stream.js';
import { imageName, parseImageReference } from '../image-reference.js';

export const LOCAL_IMAGE_VERSION = VERSION;

export function pauseImageTag(): string {
  return `nodelet/pause:${LOCAL_IMAGE_VERSION}`;
}

export function busyboxImageTag(): string {
  return `nodelet/busybox:${LOCAL_IMAGE_VERSION}`;
}

/** Debian's catatonit: static, with a pause mode (sleeps, reaps, exits 0 on SIGTERM). */
export const CATATONIT_PATH = '/usr/bin/catatonit';
/** Debian's busybox-static. */
export const BUSYBOX_PATH = '/bin/busybox';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Pause without catatonit: a shell that sleeps and exits 0 at once on TERM or INT. */
const SHELL_PAUSE_SCRIPT = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done";

export class LocalImageError extends RuntimeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RuntimeError', message, options);
  }
}

const PT_INTERP = 3;

/**
 * True for an ELF executable without a program interpreter (the dynamic loader),
 * i.e. one that runs in an empty image. Static-PIE binaries count as static.
 */
export function isStaticElf(bytes: Buffer): boolean {
  if (bytes.length < 52 || bytes.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = bytes[4] === 2;
  const le = bytes[5] === 1;
  const u16 = (o: number) => (le ? bytes.readUInt16LE(o) : bytes.readUInt16BE(o));
  const u32 = (o: number) => (le ? bytes.readUInt32LE(o) : bytes.readUInt32BE(o));
  const u64 = (o: number) => Number(le ? bytes.readBigUInt64LE(o) : bytes.readBigUInt64BE(o));
  const phoff = is64 ? u64(32) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > bytes.length) return false;
    if (u32(at) === PT_INTERP) return false;
  }
  return true;
}

/** /etc/passwd and /etc/group with root and nobody (65534), as busybox images have. */
export function passwdContent(): string {
  return 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n';
}

export function groupContent(): string {
  return 'root:x:0:\nnobody:x:65534:\n';
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Copies a host binary into the image root, refusing one that needs a dynamic loader. */
async function copyStaticBinary(from: string, to: string, packageHint: string): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await readFile(from);
  } catch (err) {
    throw new LocalImageError(`cannot read ${from} (install ${packageHint}): ${(err as Error).message}`, { cause: err });
  }
  if (!isStaticElf(bytes)) throw new LocalImageError(`${from} is not a statically linked executable (install ${packageHint})`);
  await copyFile(from, to);
  await chmod(to, 0o755);
}

export interface LocalImageSpec {
  /** name:tag, e.g. nodelet/pause:0.1.0 */
  tag: string;
  /** Dockerfile instructions applied on import: ENTRYPOINT, CMD, ENV. */
  changes: string[];
  /** Fills the (empty) root folder of the image. */
  populate(root: string): Promise<void>;
}

/** Builds one image from a root folder made by `spec.populate`, and tags it. */
export async function buildLocalImage(docker: Docker, spec: LocalImageSpec): Promise<void> {
  const ref = parseImageReference(spec.tag);
  const work = await mkdtemp(join(tmpdir(), 'nodelet-image-'));
  try {
    const root = join(work, 'rootfs');
    await mkdir(root);
    await spec.populate(root);
    // Owned by root whoever runs the build; modes exactly as on disk (umask 0, or
    // tar-fs would strip /tmp's 1777 down to the process umask).
    const options: PackOptions & { umask: number } = {
      umask: 0,
      map: (header: TarHeaders) => Object.assign(header, { uid: 0, gid: 0, uname: 'root', gname: 'root' }),
    };
    const archive = pack(root, options);
    // tar-stream's Pack is a streamx Readable, which Docker reads like any other stream.
    const progress = await docker.importImage(archive as unknown as NodeJS.ReadableStream, {
      repo: imageName(ref),
      tag: ref.tag ?? 'latest',
      changes: spec.changes,
    });
    for await (const message of jsonMessages(progress as AsyncIterable<Buffer>)) {
      const error = progressError(message);
      if (error) throw new LocalImageError(`importing image ${spec.tag}: ${error}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function busyboxRoot(root: string, busyboxPath: string, applets: string[]): Promise<void> {
  await mkdir(join(root, 'bin'));
  await copyStaticBinary(busyboxPath, join(root, 'bin/busybox'), 'busybox-static');
  for (const applet of applets) {
    if (applet === 'busybox' || applet.includes('/') || applet === '.' || applet === '..') continue;
    await symlink('busybox', join(root, 'bin', applet));
  }
}

async function listApplets(busyboxPath: string): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)(busyboxPath, ['--list']);
    return stdout
      .split('\n')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  } catch (err) {
    throw new LocalImageError(`cannot list the applets of ${busyboxPath} (install busybox-static): ${(err as Error).message}`, { cause: err });
  }
}

export interface HostBinaries {
  catatonit?: string;
  busybox?: string;
}

/**
 * The sandbox image: catatonit in pause mode, or — only when catatonit is missing — a
 * busybox shell that sleeps and exits 0 on SIGTERM.
 */
export async function buildPauseImage(docker: Docker, tag: string, binaries: HostBinaries = {}): Promise<void> {
  const catatonit = binaries.catatonit ?? CATATONIT_PATH;
  const busybox = binaries.busybox ?? BUSYBOX_PATH;
  if (await exists(catatonit)) {
    await buildLocalImage(docker, {
      tag,
      changes: ['ENTRYPOINT ["/catatonit","-P"]'],
      populate: (root) => copyStaticBinary(catatonit, join(root, 'catatonit'), 'catatonit'),
    });
    return;
  }
  await buildLocalImage(docker, {
    tag,
    changes: [`ENV PATH=${DEFAULT_PATH}`, `ENTRYPOINT ["/bin/sh","-c",${JSON.stringify(SHELL_PAUSE_SCRIPT)}]`],
    populate: (root) => busyboxRoot(root, busybox, ['sh', 'sleep']),
  });
}

/** busybox with every applet linked in /bin, root and nobody users, /tmp and /var/www. */
export async function buildBusyboxImage(docker: Docker, tag: string, binaries: HostBinaries = {}): Promise<void> {
  const busybox = binaries.busybox ?? BUSYBOX_PATH;
  const applets = await listApplets(busybox);
  await buildLocalImage(docker, {
    tag,
    changes: [`ENV PATH=${DEFAULT_PATH}`, 'CMD ["sh"]'],
    populate: async (root) => {
      await busyboxRoot(root, busybox, applets);
      for (const dir of ['etc', 'root', 'home', 'var/www', 'tmp', 'usr/bin', 'usr/sbin', 'sbin']) {
        await mkdir(join(root, dir), { recursive: true });
      }
      await chmod(join(root, 'tmp'), 0o1777);
      await chmod(join(root, 'root'), 0o700);
      await writeFile(join(root, 'etc/passwd'), passwdContent(), { mode: 0o644 });
      await writeFile(join(root, 'etc/group'), groupContent(), { mode: 0o644 });
    },
  });
}
