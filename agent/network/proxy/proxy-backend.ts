// The seam between the Proxier (what to sync, when) and one kernel mode (how).
import type { ProxyState } from './service-model.js';

export type ProxyMode = 'iptables' | 'nftables' | 'ipvs';

export const PROXY_MODES: readonly ProxyMode[] = ['iptables', 'nftables', 'ipvs'];

export interface BackendSyncResult {
  /** Rules written by this sync (restore lines, nft statements, ipvsadm commands). */
  rules: number;
  /** Whether the backend rewrote everything: asked to, or it decided to (drift, earlier failure). */
  full: boolean;
}

export interface ProxyBackend {
  readonly mode: ProxyMode;
  /** Checks the kernel and tools can do this mode; throws an error saying what is missing. */
  start(): Promise<void>;
  /**
   * Makes the kernel match `state`. `changed` lists the Service keys (serviceKey())
   * whose rules may differ from the last successful sync; 'full' rewrites everything.
   * Throws when the kernel refused the rules; what it refused is left as it was (one
   * transaction per sync, or per table for iptables) and the backend makes its next
   * call full by itself.
   */
  sync(state: ProxyState, changed: Set<string> | 'full'): Promise<BackendSyncResult>;
  /** Removes everything this mode wrote. Idempotent. */
  cleanup(): Promise<void>;
  /** The rules implementing one Service port as last synced (for `nodelet rules`); [] when unknown. */
  describe(serviceKey: string): string[];
}
