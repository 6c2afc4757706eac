// Image references in Docker's grammar (distribution/reference), checked before
// anything reaches the engine so a typo becomes InvalidImageName with a message
// that names the reference, not an opaque engine error after a pull attempt.
import { InvalidImageNameError } from './errors.js';

export interface ImageReference {
  /** Registry host[:port] when the reference names one (`localhost`, `a.b`, `host:5000`). */
  registry?: string;
  /** Lower-case path, e.g. `library/busybox` or `nodelet/pause`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>` (or sha384/sha512). */
  digest?: string;
}

const MAX_NAME_LENGTH = 255;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

function invalid(ref: string, why: string): never {
  throw new InvalidImageNameError(`invalid image reference "${ref}": ${why}`);
}

/**
 * The first path component is a registry when it looks like a host: it has a dot
 * or a port, is `localhost`, or has upper case (which a repository cannot have).
 * Otherwise Docker reads the whole name as a Docker Hub repository.
 */
function splitRegistry(name: string): { registry?: string; path: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { path: name };
  const first = name.slice(0, slash);
  const isHost = /[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first;
  return isHost ? { registry: first, path: name.slice(slash + 1) } : { path: name };
}

export function parseImageReference(ref: string): ImageReference {
  if (ref === '') invalid(ref, 'the reference is empty');
  if (/\s/.test(ref)) invalid(ref, 'it contains white space');

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const [algorithm = '', hex = '', ...extra] = digest.split(':');
    const length = DIGEST_HEX_LENGTH[algorithm];
    if (extra.length > 0 || length === undefined) invalid(ref, `digest "${digest}" must be sha256:<64 hex digits>`);
    if (!new RegExp(`^[a-f0-9]{${length}}$`).test(hex)) invalid(ref, `digest "${digest}" must be ${algorithm}:<${length} lower-case hex digits>`);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) invalid(ref, `tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }

  if (rest === '') invalid(ref, 'the repository name is empty');
  if (rest.length > MAX_NAME_LENGTH) invalid(ref, `the repository name is longer than ${MAX_NAME_LENGTH} characters`);
  const { registry, path } = splitRegistry(rest);
  if (registry !== undefined && !DOMAIN.test(registry)) invalid(ref, `registry "${registry}" is not a valid host[:port]`);
  if (path === '') invalid(ref, 'the repository name is empty');
  for (const component of path.split('/')) {
    if (component.toLowerCase() !== component) invalid(ref, 'repository name must be lowercase');
    if (!PATH_COMPONENT.test(component)) {
      invalid(ref, `repository path component "${component}" must be lower-case letters and digits, joined by '.', '_', '__' or '-'`);
    }
  }

  const parsed: ImageReference = { repository: path };
  if (registry !== undefined) parsed.registry = registry;
  if (tag !== undefined) parsed.tag = tag;
  if (digest !== undefined) parsed.digest = digest;
  return parsed;
}

/** The name without tag or digest: `[registry/]repository`. */
export function imageName(ref: ImageReference): string {
  return ref.registry !== undefined ? `${ref.registry}/${ref.repository}` : ref.repository;
}

export function formatImageReference(ref: ImageReference): string {
  return `${imageName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/**
 * Adds `:latest` when the reference has neither tag nor digest. No `docker.io/library/`
 * is added: the result is the name Docker keeps the image under locally.
 */
export function normalizeImageReference(ref: string): string {
  const parsed = parseImageReference(ref);
  if (parsed.tag === undefined && parsed.digest === undefined) parsed.tag = 'latest';
  return formatImageReference(parsed);
}
