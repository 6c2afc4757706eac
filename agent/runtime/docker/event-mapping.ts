// `docker events` messages → RuntimeEvents. Pure.
import { LABEL_MANAGED, LABEL_TYPE, TYPE_SANDBOX } from '../labels.js';
import type { RuntimeEvent } from '../runtime.js';
import { splitAnnotationLabels } from './docker-labels.js';

/** Lifecycle actions worth a relist; exec_* and the like fire on every exec probe and are left out. */
export const WATCHED_ACTIONS = ['create', 'start', 'die', 'oom', 'stop', 'kill', 'pause', 'unpause', 'destroy'] as const;

/** The filter for the events endpoint: containers nodelet manages, lifecycle actions only. */
export function eventFilters(): { type: ['container']; label: string[]; event: string[] } {
  return { type: ['container'], label: [`${LABEL_MANAGED}=true`], event: [...WATCHED_ACTIONS] };
}

/** Attributes Docker adds to a container event next to the container's labels. */
const NON_LABEL_ATTRIBUTES = new Set(['image', 'name', 'exitCode', 'signal']);

interface DockerEventMessage {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

export function runtimeEventFromDocker(message: unknown): RuntimeEvent | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as DockerEventMessage;
  const id = m.Actor?.ID;
  if (m.Type !== 'container' || !id || !m.Action) return undefined;
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(m.Actor?.Attributes ?? {})) {
    if (!NON_LABEL_ATTRIBUTES.has(key)) attributes[key] = value;
  }
  const { labels } = splitAnnotationLabels(attributes);
  const time = m.timeNano !== undefined ? new Date(Math.floor(m.timeNano / 1e6)) : new Date((m.time ?? 0) * 1000);
  return { kind: labels[LABEL_TYPE] === TYPE_SANDBOX ? 'sandbox' : 'container', id, action: m.Action, labels, time };
}
