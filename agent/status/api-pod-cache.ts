// The apiserver's pods as this node's pod informer last saw them (mirror pods
// included). The status manager and the event recorder read it instead of asking
// the server: a GET per status update would double the requests per pod.
import type { Pod } from '../api/types.js';

export interface ApiPodCache {
  /** The pod object with this namespace and name, or undefined when the informer has none. */
  getPod(namespace: string, name: string): Pod | undefined;
  /** Calls `listener` after every add, change or removal of a pod object; returns an unsubscribe function. */
  onPodChange(listener: (pod: Pod, deleted: boolean) => void): () => void;
  /** True once the first complete list arrived. */
  hasSynced(): boolean;
}
