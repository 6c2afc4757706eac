// EndpointSlices (or core/v1 Endpoints turned into slices) become the endpoints of
// each Service port, as kube-proxy's endpoint slice cache reads them: ports matched
// by name and protocol, IPv4 slices only, one endpoint per (ip, port) however many
// slices list it. A malformed address is reported and skipped alone.
import type { EndpointInfo, ServicePortInfo } from './service-model.js';
import { formatIPv4, parseIPv4, PROTOCOLS } from './service-validation.js';
import {
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
  sliceServiceKey,
  type Endpoint,
  type EndpointAddress,
  type EndpointPort,
  type EndpointSlice,
  type Endpoints,
  type Protocol,
} from './service-types.js';

/** Reports a bad field of an object: ("EndpointSlice default/web-x", "endpoints[0].addresses[1]", "Invalid value: …"). */
export type EndpointLog = (object: string, field: string, msg: string) => void;

/** The value of `managed-by` on slices nodelet derives itself (from Endpoints or local pods). */
export const NODELET_SLICE_MANAGER = 'nodelet-proxy';

/**
 * Why an endpoint address cannot be programmed, or undefined when it can. Besides
 * malformed text, the apiserver's special ranges are refused: a Service must never
 * lead to the node's own loopback or link-local addresses (CVE-2021-25737).
 */
export function endpointAddressProblem(address: unknown): string | undefined {
  const n = parseIPv4(address);
  if (n === undefined) return 'must be a valid IPv4 address';
  const first = n >>> 24;
  if (n === 0) return 'may not be unspecified (0.0.0.0)';
  if (first === 127) return 'may not be in the loopback range (127.0.0.0/8, ::1/128)';
  if (n >>> 16 === (169 << 8) + 254) return 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
  if (n >>> 8 === 224 << 16) return 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)';
  return undefined;
}

function renderValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? v);
}

interface SliceEndpoint {
  ipNum: number;
  ip: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  isLocal: boolean;
}

interface SlicePort {
  name: string;
  protocol: Protocol;
  port: number;
}

function sliceObject(slice: EndpointSlice): string {
  return `EndpointSlice ${slice.metadata?.namespace || 'default'}/${slice.metadata?.name ?? ''}`;
}

/** The usable ports of a slice; unusable ones are reported (a port left unset means "all ports": not for a proxy). */
function slicePorts(slice: EndpointSlice, log: EndpointLog): SlicePort[] {
  const out: SlicePort[] = [];
  const ports: unknown = slice.ports;
  if (!Array.isArray(ports)) return out;
  ports.forEach((raw: unknown, k) => {
    if (typeof raw !== 'object' || raw === null) {
      log(sliceObject(slice), `ports[${k}]`, `Invalid value: ${renderValue(raw)}: must be an object`);
      return;
    }
    const p = raw as EndpointPort;
    const protocol: unknown = p.protocol ?? 'TCP';
    if (!PROTOCOLS.includes(protocol as Protocol)) {
      log(
        sliceObject(slice),
        `ports[${k}].protocol`,
        `Unsupported value: ${renderValue(protocol)}: supported values: ${PROTOCOLS.map((s) => `"${s}"`).join(', ')}`,
      );
      return;
    }
    if (p.port === undefined || p.port === null) return;
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      log(sliceObject(slice), `ports[${k}].port`, `Invalid value: ${renderValue(p.port)}: must be between 1 and 65535, inclusive`);
      return;
    }
    out.push({ name: typeof p.name === 'string' ? p.name : '', protocol: protocol as Protocol, port: p.port });
  });
  return out;
}

/** The usable endpoints of an IPv4 slice: the first good address of each, conditions defaulted as the API says. */
function sliceEndpoints(slice: EndpointSlice, nodeName: string, log: EndpointLog): SliceEndpoint[] {
  const out: SliceEndpoint[] = [];
  const endpoints: unknown = slice.endpoints;
  if (!Array.isArray(endpoints)) return out;
  endpoints.forEach((raw: unknown, i) => {
    if (typeof raw !== 'object' || raw === null) {
      log(sliceObject(slice), `endpoints[${i}]`, `Invalid value: ${renderValue(raw)}: must be an object`);
      return;
    }
    const ep = raw as Endpoint;
    const addresses: unknown = ep.addresses;
    if (!Array.isArray(addresses) || addresses.length === 0) {
      log(sliceObject(slice), `endpoints[${i}].addresses`, 'Required value');
      return;
    }
    // Addresses of one endpoint are fungible: the first good one stands for the endpoint.
    let ipNum: number | undefined;
    addresses.forEach((address: unknown, j) => {
      const problem = endpointAddressProblem(address);
      if (problem) log(sliceObject(slice), `endpoints[${i}].addresses[${j}]`, `Invalid value: ${renderValue(address)}: ${problem}`);
      else ipNum ??= parseIPv4(address);
    });
    if (ipNum === undefined) return;
    const c = ep.conditions ?? {};
    // nil ready means ready; nil serving defers to ready; nil terminating means not terminating.
    const ready = c.ready ?? true;
    const serving = c.serving ?? ready;
    const terminating = c.terminating ?? false;
    out.push({ ipNum, ip: formatIPv4(ipNum), ready, serving, terminating, isLocal: nodeName !== '' && ep.nodeName === nodeName });
  });
  return out;
}

/** kube-proxy keeps one endpoint per (ip, port): a ready one over a not-ready one, then serving, then local. */
function preferred(a: EndpointInfo, b: EndpointInfo): boolean {
  if (a.ready !== b.ready) return a.ready;
  if (a.serving !== b.serving) return a.serving;
  return a.isLocal && !b.isLocal;
}

/**
 * Sets `endpoints` of each port of one Service from that Service's slices. Slices
 * labelled for another Service are ignored; IPv6 and FQDN slices are skipped
 * silently (an IPv4 proxy); bad addresses and ports are passed to `log` and
 * skipped alone. Endpoints come out sorted by address then port, so equal inputs
 * give equal models.
 */
export function attachEndpoints(ports: ServicePortInfo[], slices: EndpointSlice[], nodeName: string, log: EndpointLog): void {
  const usable = slices
    .filter((s) => s && s.addressType === 'IPv4')
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))
    .map((slice) => ({ slice, key: sliceServiceKey(slice), ports: slicePorts(slice, log), endpoints: sliceEndpoints(slice, nodeName, log) }));

  for (const info of ports) {
    const own = `${info.name.namespace}/${info.name.name}`;
    const byAddress = new Map<string, EndpointInfo & { ipNum: number }>();
    for (const s of usable) {
      if (s.key !== undefined && s.key !== own) continue;
      const port = s.ports.find((p) => p.name === info.name.port && p.protocol === info.name.protocol);
      if (!port) continue;
      for (const ep of s.endpoints) {
        const candidate = {
          ip: ep.ip,
          ipNum: ep.ipNum,
          port: port.port,
          ready: ep.ready,
          serving: ep.serving,
          terminating: ep.terminating,
          isLocal: ep.isLocal,
        };
        const key = `${ep.ip}:${port.port}`;
        const existing = byAddress.get(key);
        if (!existing || preferred(candidate, existing)) byAddress.set(key, candidate);
      }
    }
    info.endpoints = [...byAddress.values()].sort((a, b) => a.ipNum - b.ipNum || a.port - b.port).map(({ ipNum: _ipNum, ...ep }) => ep);
  }
}

/**
 * core/v1 Endpoints as EndpointSlices, for servers without the EndpointSlice API:
 * one slice per subset, `addresses` ready and `notReadyAddresses` not ready (the
 * Endpoints API knows nothing of serving or terminating). IPv6 addresses go to
 * an IPv6 slice (ignored by this proxy); malformed ones are reported with the
 * Endpoints' own field path and left out.
 */
export function endpointsToSlices(endpoints: Endpoints, log?: EndpointLog): EndpointSlice[] {
  const namespace = endpoints.metadata?.namespace || 'default';
  const name = endpoints.metadata?.name ?? '';
  const object = `Endpoints ${namespace}/${name}`;
  const slices: EndpointSlice[] = [];
  (endpoints.subsets ?? []).forEach((subset, i) => {
    const v4: Endpoint[] = [];
    const v6: Endpoint[] = [];
    const add = (list: EndpointAddress[] | undefined, field: string, ready: boolean) => {
      (list ?? []).forEach((a, j) => {
        const ip: unknown = a?.ip;
        const endpoint = (): Endpoint => ({
          addresses: [String(ip)],
          conditions: { ready, serving: ready, terminating: false },
          ...(a.nodeName ? { nodeName: a.nodeName } : {}),
          ...(a.targetRef ? { targetRef: a.targetRef } : {}),
          ...(a.hostname ? { hostname: a.hostname } : {}),
        });
        if (typeof ip === 'string' && ip.includes(':')) {
          v6.push(endpoint());
          return;
        }
        const problem = endpointAddressProblem(ip);
        if (problem) log?.(object, `subsets[${i}].${field}[${j}].ip`, `Invalid value: ${renderValue(ip)}: ${problem}`);
        else v4.push(endpoint());
      });
    };
    add(subset.addresses, 'addresses', true);
    add(subset.notReadyAddresses, 'notReadyAddresses', false);
    const ports = (subset.ports ?? []).map((p): EndpointPort => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port }));
    const metadata = (suffix: string) => ({
      name: `${name}-subset-${i}${suffix}`,
      namespace,
      labels: { [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: NODELET_SLICE_MANAGER },
    });
    slices.push({ metadata: metadata(''), addressType: 'IPv4', endpoints: v4, ports });
    if (v6.length) slices.push({ metadata: metadata('-ipv6'), addressType: 'IPv6', endpoints: v6, ports });
  });
  return slices;
}
