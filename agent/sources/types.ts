// The contract between pod sources and the pod manager. Every update is the full
// current set of pods of the source (a snapshot): a pod missing from it has been
// removed, so no separate delete event exists to be lost.
import type { Pod } from '../api/types.js';

/** A manifest document that was not turned into a pod, and why. */
export interface RejectedManifest {
  /** File the document came from. */
  path: string;
  /** Position of the document in the file (0-based; List items count one each). */
  index: number;
  /** Pod name (as it would run, `<name>-<node>` for static pods) when the document got that far. */
  name?: string;
  namespace?: string;
  /** Machine-readable cause: `ParseError`, `Invalid`, `Duplicate`, `UnsupportedVersion`, `ReadError`. */
  reason: string;
  /** Operator-readable text naming the field to fix (the file is `path`). */
  message: string;
  /** Field paths at fault (`spec.containers[0].image`…), when the document got to validation. */
  fields?: string[];
}

export interface PodSourceUpdate {
  /** Every valid pod of the source, each with its UID set. */
  pods: Pod[];
  rejected: RejectedManifest[];
}

export interface PodSource {
  /** Starts watching; resolves once the first snapshot has been delivered to `onUpdate`. */
  start(onUpdate: (update: PodSourceUpdate) => void): Promise<void>;
  /** Stops watching; no update is delivered after it resolves. */
  stop(): Promise<void>;
}
