// What the status manager compares and sends, as pure functions:
//   - normalizePodStatus: the status as the apiserver will store it (times in
//     whole seconds, no nulls, container statuses in a stable order), so a status
//     read back from the server compares equal to the one we sent;
//   - mergeWithApiStatus: kubelet's mergePodStatus — conditions other components
//     own (readiness gates, DisruptionTarget…) are kept from the server, the start
//     time never moves, and a terminal phase on the server is never undone;
//   - statusesEqual: kubelet's isPodStatusByKubeletEqual — conditions compare by
//     status, reason and message only (their probe and transition times are not a
//     reason to write);
//   - statusPatch: a two-way strategic merge patch from the server's status to
//     ours (what client-go's CreateTwoWayMergePatch yields): changed fields, nulls
//     for fields we dropped, keyed lists element by element with `$patch: delete`
//     for removed elements and `$setElementOrder` for their order.
import { formatTime } from '../api/time.js';
import type { PodCondition, PodStatus } from '../api/types.js';
import { isTerminalPhase } from '../api/terminal-phase.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonMap = { [key: string]: Json };

/** Condition types kubelet owns and may add, change or remove; others belong to other writers. */
export const KUBELET_CONDITION_TYPES: ReadonlySet<string> = new Set([
  'PodScheduled',
  'Ready',
  'Initialized',
  'ContainersReady',
  'PodReadyToStartContainers',
  'PodResizePending',
  'PodResizeInProgress',
]);

/** Status fields the node writes. Everything else (nominatedNodeName, resourceClaimStatuses…) is left alone. */
const OWNED_FIELDS = [
  'phase',
  'conditions',
  'message',
  'reason',
  'hostIP',
  'hostIPs',
  'podIP',
  'podIPs',
  'startTime',
  'initContainerStatuses',
  'containerStatuses',
  'ephemeralContainerStatuses',
  'qosClass',
  'resize',
] as const;

/** Owned fields that an absent value does not clear: absent only means "not known here". */
const NEVER_CLEARED = new Set(['phase', 'startTime', 'qosClass']);

/** Lists of the pod status merged element-wise (their patchMergeKey). */
const LIST_MERGE_KEYS: Readonly<Record<string, string>> = {
  conditions: 'type',
  containerStatuses: 'name',
  initContainerStatuses: 'name',
  ephemeralContainerStatuses: 'name',
  podIPs: 'ip',
  hostIPs: 'ip',
};

const TIME_FIELDS = new Set(['startTime', 'lastTransitionTime', 'lastProbeTime', 'startedAt', 'finishedAt']);

function isMap(v: unknown): v is JsonMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 3339 in whole seconds, as metav1.Time serializes; other text is left as it is. */
function secondsPrecision(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  return formatTime(ms);
}

/** Plain JSON without null or undefined values and with times in whole seconds. */
function normalizeValue(value: unknown, key: string | undefined): Json | undefined {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    return value.map((v) => normalizeValue(v, undefined)).filter((v): v is Json => v !== undefined);
  }
  if (isMap(value)) {
    const out: JsonMap = {};
    for (const [k, v] of Object.entries(value)) {
      const n = normalizeValue(v, k);
      if (n !== undefined) out[k] = n;
    }
    return out;
  }
  if (typeof value === 'string' && key !== undefined && TIME_FIELDS.has(key)) return secondsPrecision(value);
  if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  return undefined;
}

function byName(a: Json, b: Json): number {
  const na = isMap(a) && typeof a.name === 'string' ? a.name : '';
  const nb = isMap(b) && typeof b.name === 'string' ? b.name : '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * The status as the apiserver stores and returns it. Regular and ephemeral
 * container statuses are sorted by name (kubelet does the same before comparing);
 * init containers keep their order, which is the spec's.
 */
export function normalizePodStatus(status: PodStatus | undefined): PodStatus {
  const out = (normalizeValue(status ?? {}, undefined) ?? {}) as JsonMap;
  for (const field of ['containerStatuses', 'ephemeralContainerStatuses']) {
    const list = out[field];
    if (Array.isArray(list)) out[field] = [...list].sort(byName);
  }
  return out as PodStatus;
}

function isKubeletCondition(c: PodCondition): boolean {
  return KUBELET_CONDITION_TYPES.has(c.type);
}

/**
 * Only the fields the node owns; of the conditions only kubelet's. The rest of the
 * server's status is never compared with, nor patched against.
 */
export function ownedStatus(status: PodStatus | undefined): PodStatus {
  const normalized = normalizePodStatus(status) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of OWNED_FIELDS) {
    if (normalized[field] !== undefined) out[field] = normalized[field];
  }
  if (Array.isArray(out.conditions)) {
    const mine = (out.conditions as PodCondition[]).filter(isKubeletCondition);
    if (mine.length > 0) out.conditions = mine;
    else delete out.conditions;
  }
  return out as PodStatus;
}

/**
 * The status to write, given what the server has: our fields, with the start time
 * the server already records, and — when the server already holds a terminal phase
 * and ours is not — the server's phase, reason and message (a pod never leaves a
 * terminal phase; the apiserver refuses it anyway).
 */
export function mergeWithApiStatus(apiStatus: PodStatus | undefined, desired: PodStatus): PodStatus {
  const merged = ownedStatus(desired);
  const api = normalizePodStatus(apiStatus);
  if (api.startTime) merged.startTime = api.startTime;
  if (isTerminalPhase(api.phase) && !isTerminalPhase(merged.phase)) {
    merged.phase = api.phase;
    if (api.reason) merged.reason = api.reason;
    else delete merged.reason;
    if (api.message) merged.message = api.message;
    else delete merged.message;
  }
  return merged;
}

function conditionCore(c: PodCondition): string {
  return JSON.stringify([c.status, c.reason ?? '', c.message ?? '']);
}

/**
 * kubelet's isPodStatusByKubeletEqual over the owned fields: the same kubelet
 * conditions with the same status/reason/message, and every other owned field equal.
 */
export function statusesEqual(a: PodStatus | undefined, b: PodStatus | undefined): boolean {
  const x = ownedStatus(a);
  const y = ownedStatus(b);
  const cx = new Map((x.conditions ?? []).map((c) => [c.type, conditionCore(c)]));
  const cy = new Map((y.conditions ?? []).map((c) => [c.type, conditionCore(c)]));
  if (cx.size !== cy.size) return false;
  for (const [type, core] of cx) if (cy.get(type) !== core) return false;
  const { conditions: _x, ...restX } = x;
  const { conditions: _y, ...restY } = y;
  return deepEqual(restX, restY);
}

// ---------------------------------------------------------------------------
// Two-way strategic merge patch.

/** The patch turning map `from` into map `to`, or undefined when they are equal. */
function diffMaps(from: JsonMap, to: JsonMap, keyedLists: Readonly<Record<string, string>>, clearable: (key: string) => boolean): JsonMap | undefined {
  const patch: JsonMap = {};
  for (const [key, value] of Object.entries(to)) {
    const old = from[key];
    if (deepEqual(old, value)) continue;
    const mergeKey = keyedLists[key];
    if (mergeKey !== undefined && Array.isArray(value)) {
      const listPatch = diffKeyedList(Array.isArray(old) ? old : [], value, mergeKey);
      if (listPatch) {
        if (listPatch.elements.length > 0) patch[key] = listPatch.elements;
        patch[`$setElementOrder/${key}`] = listPatch.order;
      }
    } else if (isMap(value) && isMap(old)) {
      const sub = diffMaps(old, value, {}, () => true);
      if (sub) patch[key] = sub;
    } else {
      patch[key] = value;
    }
  }
  for (const key of Object.keys(from)) {
    if (!Object.hasOwn(to, key) && clearable(key)) patch[key] = null;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

function keyOf(element: Json, mergeKey: string): Json | undefined {
  return isMap(element) ? element[mergeKey] : undefined;
}

function diffKeyedList(from: Json[], to: Json[], mergeKey: string): { elements: Json[]; order: Json[] } | undefined {
  if (to.some((e) => keyOf(e, mergeKey) === undefined)) {
    // Not mergeable element-wise: replace the whole list.
    return { elements: [...to, { $patch: 'replace' }], order: [] };
  }
  const elements: Json[] = [];
  const toKeys = to.map((e) => keyOf(e, mergeKey));
  for (const element of to) {
    const key = keyOf(element, mergeKey);
    const old = from.find((o) => deepEqual(keyOf(o, mergeKey), key));
    if (old === undefined || !isMap(old)) {
      elements.push(element);
      continue;
    }
    const sub = diffMaps(old, element as JsonMap, {}, () => true);
    if (sub) elements.push({ [mergeKey]: key as Json, ...sub });
  }
  for (const old of from) {
    const key = keyOf(old, mergeKey);
    if (key !== undefined && !toKeys.some((k) => deepEqual(k, key))) elements.push({ [mergeKey]: key, $patch: 'delete' });
  }
  const fromOrder = from.map((e) => keyOf(e, mergeKey)).filter((k) => toKeys.some((t) => deepEqual(t, k)));
  if (elements.length === 0 && deepEqual(fromOrder, toKeys)) return undefined;
  return { elements, order: toKeys.map((k) => ({ [mergeKey]: k as Json })) };
}

/** The body of PATCH pods/<name>/status. */
export interface PodStatusPatch {
  metadata: { uid: string };
  status: Record<string, unknown>;
}

/**
 * The strategic merge patch from the server's status to `desired` (already merged
 * with mergeWithApiStatus), with the UID as precondition; undefined when the server
 * already has it. Conditions other writers own are neither compared nor touched.
 */
export function statusPatch(uid: string, apiStatus: PodStatus | undefined, desired: PodStatus): PodStatusPatch | undefined {
  const from = ownedStatus(apiStatus) as unknown as JsonMap;
  const to = ownedStatus(desired) as unknown as JsonMap;
  const status = diffMaps(from, to, LIST_MERGE_KEYS, (key) => !NEVER_CLEARED.has(key));
  return status ? { metadata: { uid }, status } : undefined;
}
