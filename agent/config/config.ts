// NodeletConfiguration: one typed, defaulted configuration from a YAML file and
// flags (flags win). Defaults follow kubelet's where kubelet has one.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse } from 'yaml';
import { DEFAULT_RUNTIME_ENDPOINT } from '../runtime/runtime-endpoint.js';
import type { ExecHandler } from '../runtime/runtime.js';
import { VERSION } from '../api/version.js';

export interface NodeletConfiguration {
  nodeName: string;
  rootDir: string;
  /** Directory of static pod manifests (standalone mode). */
  manifests?: string;
  logLevel: string;
  /** Subnet of this node's pod network bridge. */
  podCIDR: string;
  clusterDomain: string;
  clusterDNS: string[];
  /** Host resolv.conf used for dnsPolicy Default and search-path inheritance. */
  resolvConf: string;
  maxPods: number;
  /** Image of the sandbox container. */
  podInfraImage: string;
  /** How often static manifests are re-read even without a change notice (ms). */
  fileCheckFrequencyMs: number;
  /** How often every pod worker re-syncs with the runtime (ms). */
  syncFrequencyMs: number;
  /** How often the whole runtime is listed to catch missed events (ms). */
  relistPeriodMs: number;
  runtimeRequestTimeoutMs: number;
  containerLogMaxSize: string;
  containerLogMaxFiles: number;
  /** Kept exited containers per (pod, container) besides the running one. */
  maxDeadContainersPerContainer: number;
  /** Port of the agent's HTTP API; 0 disables it. */
  port: number;
  /** The container engine's socket, kubelet's --container-runtime-endpoint. */
  containerRuntimeEndpoint: string;
  /** Joins the cluster this kubeconfig points at; without it the agent runs standalone. */
  kubeconfig?: string;
  /** Labels added to the Node at registration (kubelet's --node-labels). */
  nodeLabels: Record<string, string>;
  /** Taints the Node is created with (kubelet's registerWithTaints). */
  registerWithTaints: Array<{ key: string; value?: string; effect: string }>;
  /** Resources held back from allocatable for the OS and for the agent and engine. */
  systemReserved: Record<string, string>;
  kubeReserved: Record<string, string>;
  /** Node status computation period, and the longest time between two reports (ms). */
  nodeStatusUpdateFrequencyMs: number;
  nodeStatusReportFrequencyMs: number;
  /** The node Lease's duration (s); it is renewed every quarter of it. */
  nodeLeaseDurationSeconds: number;
  /** Client-side rate limit towards the apiserver. */
  kubeAPIQPS: number;
  kubeAPIBurst: number;
  /** Host path prefixes pods may mount (readOnly: only read-only mounts); empty allows all, as kubelet does. */
  allowedHostPaths: Array<{ pathPrefix: string; readOnly?: boolean }>;
  /** tmpfs size of an `emptyDir.medium: Memory` without sizeLimit or memory limits; '' = the node's memory. */
  memoryVolumeDefaultSize: string;
  /** How often emptyDir usage is measured against sizeLimit (kubelet's volumeStatsAggPeriod, ms). */
  volumeStatsAggPeriodMs: number;
  /** How often the directories of pods no longer on the node are looked for and removed (ms). */
  podDirCleanupPeriodMs: number;
  /**
   * How probe and hook commands run. 'auto' (default) and 'native': through the
   * native exec helper (a fork into the container's namespaces, cgroups, capability
   * bounding set and no_new_privs: ~15x cheaper than Docker's exec) for containers
   * without a seccomp filter or LSM label, Docker's exec API for the others and when
   * the helper is not built or the agent is not root ('native' then logs a warning).
   * 'docker': always Docker's exec. 'nsenter' is read as 'native', with a warning.
   */
  execHandler: ExecHandler;
  /**
   * Exec probes running at once, node-wide. 0 = automatic: the CPU count with Docker's
   * exec (each costs dockerd, containerd and a runc process; more at once only queue
   * inside Docker and starve everything else on the node, httpGet probes included),
   * 10 with the native helper.
   */
  execProbeConcurrency: number;
}

export function defaultNodeName(): string {
  return hostname().toLowerCase();
}

export function defaultConfig(): NodeletConfiguration {
  return {
    nodeName: defaultNodeName(),
    rootDir: '/var/lib/nodelet',
    logLevel: 'info',
    podCIDR: '10.88.0.0/16',
    clusterDomain: 'cluster.local',
    clusterDNS: [],
    resolvConf: '/etc/resolv.conf',
    maxPods: 110,
    podInfraImage: `nodelet/pause:${VERSION}`,
    fileCheckFrequencyMs: 20_000,
    syncFrequencyMs: 60_000,
    relistPeriodMs: 5_000,
    runtimeRequestTimeoutMs: 120_000,
    containerLogMaxSize: '10m',
    containerLogMaxFiles: 5,
    maxDeadContainersPerContainer: 1,
    port: 0,
    containerRuntimeEndpoint: DEFAULT_RUNTIME_ENDPOINT,
    nodeLabels: {},
    registerWithTaints: [],
    systemReserved: {},
    kubeReserved: {},
    nodeStatusUpdateFrequencyMs: 10_000,
    nodeStatusReportFrequencyMs: 300_000,
    nodeLeaseDurationSeconds: 40,
    kubeAPIQPS: 50,
    kubeAPIBurst: 100,
    allowedHostPaths: [],
    memoryVolumeDefaultSize: '',
    volumeStatsAggPeriodMs: 60_000,
    podDirCleanupPeriodMs: 60_000,
    execHandler: 'auto',
    execProbeConcurrency: 0,
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Keys without a default (unset means "off"), all strings. */
const OPTIONAL_STRING_KEYS = ['manifests', 'kubeconfig'];
const KEYS = [...Object.keys(defaultConfig()), ...OPTIONAL_STRING_KEYS] as Array<keyof NodeletConfiguration>;

/** Reads a NodeletConfiguration YAML file; unknown keys and wrong types are errors naming the key. */
export function readConfigFile(path: string): Partial<NodeletConfiguration> {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'), { version: '1.1' });
  } catch (err) {
    throw new ConfigError(`config ${path}: ${(err as Error).message}`);
  }
  if (doc == null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config ${path}: expected a mapping at the top level`);
  const out: Record<string, unknown> = {};
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key === 'apiVersion' || key === 'kind') continue;
    if (!(KEYS as string[]).includes(key)) throw new ConfigError(`config ${path}: unknown field "${key}"`);
    const expected = OPTIONAL_STRING_KEYS.includes(key) ? 'string' : Array.isArray(defaults[key]) ? 'array' : typeof defaults[key];
    const actual = Array.isArray(value) ? 'array' : typeof value;
    if (actual !== expected) throw new ConfigError(`config ${path}: field "${key}" must be a ${expected}, got ${actual}`);
    out[key] = value;
  }
  return out as Partial<NodeletConfiguration>;
}

const EXEC_HANDLERS: readonly string[] = ['auto', 'native', 'docker'] satisfies ExecHandler[];

/**
 * The configuration from defaults, the file `flags.config` names, and flags. `warn`
 * hears of deprecated values that still work (the logger does not exist yet).
 */
export function resolveConfig(
  flags: Partial<NodeletConfiguration> & { config?: string },
  warn: (message: string) => void = () => undefined,
): NodeletConfiguration {
  const fromFile = flags.config ? readConfigFile(flags.config) : {};
  const merged: NodeletConfiguration = { ...defaultConfig(), ...fromFile };
  for (const [k, v] of Object.entries(flags)) {
    if (k !== 'config' && v !== undefined) (merged as unknown as Record<string, unknown>)[k] = v;
  }
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(merged.nodeName) || merged.nodeName.length > 253) {
    throw new ConfigError(`node name "${merged.nodeName}" is not a valid DNS subdomain (lower-case letters, digits, '-', '.')`);
  }
  if (!merged.rootDir.startsWith('/')) throw new ConfigError(`root dir "${merged.rootDir}" must be an absolute path`);
  // 'nsenter' named the native helper's handler before it had a name of its own: files that say so keep working.
  if ((merged.execHandler as string) === 'nsenter') {
    warn('execHandler "nsenter" is deprecated and means "native": write execHandler: native');
    merged.execHandler = 'native';
  }
  if (!EXEC_HANDLERS.includes(merged.execHandler)) {
    throw new ConfigError(`execHandler "${merged.execHandler}" must be auto, native or docker`);
  }
  if (!Number.isInteger(merged.execProbeConcurrency) || merged.execProbeConcurrency < 0) {
    throw new ConfigError(`execProbeConcurrency ${JSON.stringify(merged.execProbeConcurrency)} must be a whole number (0 = automatic)`);
  }
  merged.allowedHostPaths.forEach((a, i) => {
    if (typeof a?.pathPrefix !== 'string' || !a.pathPrefix.startsWith('/')) {
      throw new ConfigError(`allowedHostPaths[${i}].pathPrefix must be an absolute path`);
    }
    if (a.readOnly !== undefined && typeof a.readOnly !== 'boolean') throw new ConfigError(`allowedHostPaths[${i}].readOnly must be a boolean`);
  });
  return merged;
}
