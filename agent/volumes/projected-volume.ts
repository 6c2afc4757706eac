// projected volume: several sources (configMap, secret, downwardAPI,
// serviceAccountToken) merged into one directory, in source order, a later source
// replacing an earlier one's file at the same path (kubelet's collectData). Holds a
// tmpfs when a secret or a token is among them. Refreshed on every sync; tokens are
// reused until 80% of their lifetime (or 24 h) has passed, as kubelet's token
// manager does, so a sync neither asks the apiserver nor rewrites files for nothing.
import { podKey, type KeyToPath } from '../api/types.js';
import { realClock, type Clock } from '../api/clock.js';
import { publishPayload, tearDownPayloadDir } from './atomic-writer.js';
import { readConfigMap } from './config-map-volume.js';
import { downwardAPIPayload } from './downward-api-files.js';
import { downwardAPIItems } from './downward-api-volume.js';
import { cleanPayloadPath, defaultModeOf, keyedObjectPayload, mergePayload, PayloadError, toVolumeError, type Payload } from './payload.js';
import { readSecret } from './secret-volume.js';
import { VolumeError, type MountedVolume, type VolumeKind, type VolumeSetUpContext } from './types.js';

interface KeyedProjection {
  name?: string;
  items?: KeyToPath[];
  optional?: boolean;
}

interface ServiceAccountTokenProjection {
  audience?: string;
  expirationSeconds?: number;
  path?: string;
}

export interface VolumeProjection {
  configMap?: KeyedProjection;
  secret?: KeyedProjection;
  downwardAPI?: { items?: unknown };
  serviceAccountToken?: ServiceAccountTokenProjection;
  [other: string]: unknown;
}

/** kubelet's default token lifetime for a projected serviceAccountToken. */
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600;
const MAX_TOKEN_AGE_MS = 24 * 60 * 60 * 1000;
/** Refresh once this share of the lifetime has passed. */
const TOKEN_REFRESH_FRACTION = 0.8;

interface CachedToken {
  token: string;
  fetchedAt: number;
  ttlMs: number;
}

export interface ProjectedVolumeOptions {
  clock?: Clock;
}

export class ProjectedVolume implements VolumeKind {
  readonly kind = 'projected';
  private readonly clock: Clock;
  /** `<volume dir>\0<audience>\0<expirationSeconds>` → the token last issued. */
  private readonly tokens = new Map<string, CachedToken>();

  constructor(options: ProjectedVolumeOptions = {}) {
    this.clock = options.clock ?? realClock;
  }

  async setUp(ctx: VolumeSetUpContext): Promise<MountedVolume> {
    const source = ctx.volume.projected ?? {};
    const sources = projectionSources(source.sources);
    const defaultMode = wrapPayloadError(() => defaultModeOf(source.defaultMode, 'projected.defaultMode'));
    const fsGroup = ctx.pod.spec.securityContext?.fsGroup;

    // Every source is tried, so one message lists every problem (kubelet aggregates too).
    const payload: Payload = new Map();
    const errors: string[] = [];
    for (const [i, projection] of sources.entries()) {
      try {
        mergePayload(payload, await this.sourcePayload(ctx, projection, `projected.sources[${i}]`, defaultMode, fsGroup));
      } catch (err) {
        errors.push(toVolumeError(err).message);
      }
    }
    if (errors.length > 0) throw new VolumeError(errors.join('; '));

    const holdsSecrets = sources.some((s) => s.secret !== undefined || s.serviceAccountToken !== undefined);
    try {
      await publishPayload(ctx.dir, payload, { tmpfs: holdsSecrets, ...(fsGroup !== undefined ? { fsGroup } : {}) });
    } catch (err) {
      throw toVolumeError(err, `writing the projected files into ${ctx.dir}`);
    }
    return { hostPath: ctx.dir, readOnly: true, dynamic: true };
  }

  async tearDown(dir: string): Promise<void> {
    for (const key of this.tokens.keys()) if (key.startsWith(`${dir}\0`)) this.tokens.delete(key);
    await tearDownPayloadDir(dir);
  }

  private async sourcePayload(
    ctx: VolumeSetUpContext,
    projection: VolumeProjection,
    field: string,
    defaultMode: number,
    fsGroup: number | undefined,
  ): Promise<Payload> {
    if (projection.secret) {
      const name = projection.secret.name ?? '';
      return keyedObjectPayload({
        kind: 'secret',
        name,
        object: await readSecret(ctx, name),
        optional: projection.secret.optional === true,
        defaultMode,
        ...(projection.secret.items ? { items: projection.secret.items } : {}),
        field: `${field}.secret`,
      });
    }
    if (projection.configMap) {
      const name = projection.configMap.name ?? '';
      return keyedObjectPayload({
        kind: 'configmap',
        name,
        object: await readConfigMap(ctx, name),
        optional: projection.configMap.optional === true,
        defaultMode,
        ...(projection.configMap.items ? { items: projection.configMap.items } : {}),
        field: `${field}.configMap`,
      });
    }
    if (projection.downwardAPI) {
      return downwardAPIPayload(
        downwardAPIItems(projection.downwardAPI.items, `${field}.downwardAPI.items`),
        ctx.pod,
        { nodeName: ctx.nodeName, ...(ctx.nodeAllocatable ? { nodeAllocatable: ctx.nodeAllocatable } : {}) },
        defaultMode,
        `${field}.downwardAPI.items`,
      );
    }
    if (projection.serviceAccountToken) {
      const sat = projection.serviceAccountToken;
      const path = cleanPayloadPath(sat.path ?? '', `${field}.serviceAccountToken.path`);
      const token = await this.token(ctx, sat, `${field}.serviceAccountToken`);
      // kubelet: with an fsGroup the token is 0600, and group read is added by the ownership change (0640).
      const mode = fsGroup !== undefined ? 0o600 : defaultMode;
      return new Map([[path, { data: Buffer.from(token, 'utf8'), mode }]]);
    }
    const named = Object.keys(projection).join(', ') || 'none';
    throw new PayloadError(`${field}: projected source ${named} is not supported by this node ` + '(configMap, secret, downwardAPI, serviceAccountToken)');
  }

  private async token(ctx: VolumeSetUpContext, sat: ServiceAccountTokenProjection, field: string): Promise<string> {
    const expirationSeconds = sat.expirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS;
    if (typeof expirationSeconds !== 'number' || !Number.isInteger(expirationSeconds) || expirationSeconds <= 0) {
      throw new PayloadError(`${field}.expirationSeconds: must be a positive number of seconds, got ${String(expirationSeconds)}`);
    }
    const audience = sat.audience === undefined || sat.audience === '' ? undefined : sat.audience;
    const key = `${ctx.dir}\0${audience ?? ''}\0${expirationSeconds}`;
    const now = this.clock.now();
    const cached = this.tokens.get(key);
    if (cached && !needsRefresh(cached, now)) return cached.token;

    const cannotIssue = () => new VolumeError(`${field}: the server cannot issue service account tokens ` + `(TokenRequest) for pod ${podKey(ctx.pod)}`);
    const request = ctx.objects.serviceAccountToken;
    if (!request) throw cannotIssue();
    let token: string | undefined;
    try {
      token = await request.call(ctx.objects, ctx.pod, audience, expirationSeconds);
    } catch (err) {
      // A token that has not expired yet still works; keep it until a refresh succeeds.
      if (cached && now < cached.fetchedAt + cached.ttlMs) return cached.token;
      throw toVolumeError(err, `${field}: requesting a service account token failed`);
    }
    if (token === undefined) {
      if (cached && now < cached.fetchedAt + cached.ttlMs) return cached.token;
      throw cannotIssue();
    }
    this.tokens.set(key, { token, fetchedAt: now, ttlMs: expirationSeconds * 1000 });
    return token;
  }
}

function needsRefresh(cached: CachedToken, now: number): boolean {
  const age = now - cached.fetchedAt;
  return age >= cached.ttlMs * TOKEN_REFRESH_FRACTION || age >= MAX_TOKEN_AGE_MS;
}

function projectionSources(sources: unknown): VolumeProjection[] {
  if (sources === undefined || sources === null) return [];
  if (!Array.isArray(sources)) throw new VolumeError('projected.sources: must be a list');
  return sources.map((s: unknown, i) => {
    if (typeof s !== 'object' || s === null) throw new VolumeError(`projected.sources[${i}]: must be an object`);
    return s as VolumeProjection;
  });
}

function wrapPayloadError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toVolumeError(err);
  }
}
