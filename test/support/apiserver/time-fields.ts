// The timestamp fields of the served kinds and the encoding the real server gives
// them: metav1.Time is stored to the second in UTC (fractions are dropped), and
// metav1.MicroTime must arrive with exactly six fractional digits or the request
// fails to decode. Clients that compare their own millisecond timestamps with what
// the server echoes back meet this on a real cluster, so the test server does it too.
import { badRequest } from './errors.js';
import { isMap } from './json-value.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const RFC3339_MICRO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})(Z|[+-]\d{2}:\d{2})$/;

function containerStatusTimes(list: string): string[] {
  return ['state', 'lastState'].flatMap((s) => [
    `status.${list}[].${s}.running.startedAt`,
    `status.${list}[].${s}.terminated.startedAt`,
    `status.${list}[].${s}.terminated.finishedAt`,
  ]);
}

const TIME_FIELDS: Record<string, string[]> = {
  Pod: [
    'status.startTime',
    'status.conditions[].lastProbeTime',
    'status.conditions[].lastTransitionTime',
    ...containerStatusTimes('containerStatuses'),
    ...containerStatusTimes('initContainerStatuses'),
    ...containerStatusTimes('ephemeralContainerStatuses'),
  ],
  Node: ['status.conditions[].lastHeartbeatTime', 'status.conditions[].lastTransitionTime'],
  Event: ['firstTimestamp', 'lastTimestamp'],
  Namespace: ['status.conditions[].lastTransitionTime'],
  Service: ['status.conditions[].lastTransitionTime'],
};

const MICRO_TIME_FIELDS: Record<string, string[]> = {
  Lease: ['spec.acquireTime', 'spec.renewTime'],
  Event: ['eventTime', 'series.lastObservedTime'],
};

const META_TIME_FIELDS = ['metadata.creationTimestamp', 'metadata.deletionTimestamp', 'metadata.managedFields[].time'];

/** RFC 3339 to the second in UTC, as metav1.Time serializes. */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with microseconds in UTC, as metav1.MicroTime serializes. */
export function formatMicroTime(date: Date): string {
  return date.toISOString().replace(/Z$/, '000Z');
}

/** Calls `fn(container, key, value)` for every value at a dotted path where `[]` walks list elements. */
function visit(obj: unknown, parts: string[], fn: (holder: Record<string, unknown>, key: string, value: unknown) => void): void {
  const [head, ...rest] = parts;
  if (head === undefined || !isMap(obj)) return;
  const isList = head.endsWith('[]');
  const key = isList ? head.slice(0, -2) : head;
  if (!Object.hasOwn(obj, key)) return;
  const value = obj[key];
  if (isList) {
    if (Array.isArray(value)) for (const el of value) visit(el, rest, fn);
  } else if (rest.length === 0) {
    fn(obj, key, value);
  } else {
    visit(value, rest, fn);
  }
}

function decodeError(kind: string, apiVersion: string, path: string, value: unknown, layout: string, why: string) {
  return badRequest(`${kind} in version "${apiVersion}" cannot be handled as a ${kind}: ${path}: parsing time ${JSON.stringify(value)} as "${layout}": ${why}`);
}

/** Rewrites every timestamp of `obj` (a `kind` object) in its canonical form; throws a 400 for an undecodable one. */
export function normalizeTimes(kind: string, apiVersion: string, obj: Record<string, unknown>): void {
  for (const path of [...META_TIME_FIELDS, ...(TIME_FIELDS[kind] ?? [])]) {
    visit(obj, path.split('.'), (holder, key, value) => {
      if (value === null) return;
      if (typeof value !== 'string' || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
        throw decodeError(kind, apiVersion, path, value, '2006-01-02T15:04:05Z07:00', 'not an RFC 3339 time');
      }
      holder[key] = formatTime(new Date(value));
    });
  }
  for (const path of MICRO_TIME_FIELDS[kind] ?? []) {
    visit(obj, path.split('.'), (holder, key, value) => {
      if (value === null) return;
      const m = typeof value === 'string' ? RFC3339_MICRO.exec(value) : null;
      if (!m || Number.isNaN(Date.parse(`${m[1]}${m[3]}`))) {
        throw decodeError(kind, apiVersion, path, value, '2006-01-02T15:04:05.000000Z07:00', 'a MicroTime needs exactly six fractional digits');
      }
      const utc = new Date(Date.parse(`${m[1]}${m[3]}`)).toISOString().replace(/\.\d{3}Z$/, '');
      holder[key] = `${utc}.${m[2]}Z`;
    });
  }
}
