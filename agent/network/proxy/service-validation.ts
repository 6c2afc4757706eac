// Validation of a Service as the apiserver does it (ValidateService plus the IP and
// NodePort allocators' range checks), limited to what the proxy relies on. Joined
// mode gets objects the apiserver already checked; standalone manifests do not,
// and a bad one must be skipped with the apiserver's words, never break the others.
// Values come from YAML/JSON unchecked, so every field is read as `unknown`.
import { isIP } from 'node:net';
import { isJsonObject, type JsonObject } from '../../api/json-object.js';
import { fieldError, renderFieldError, type FieldError } from '../../api/validation/field-errors.js';
import { dns1035Label, dns1123Label, dns1123Subdomain, ipAddress, labelValue, portName, portNumber, qualifiedName } from '../../api/validation/rules.js';
import { serviceKeyOf, type Service } from './service-types.js';

// ---- IPv4 arithmetic (the proxy programs IPv4 only) ----

const IPV4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

/** A dotted quad as an unsigned 32-bit number; leading zeros are refused as the apiserver refuses them. */
export function parseIPv4(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = IPV4.exec(text);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface IPv4CIDR {
  /** The network address (host bits cleared). */
  network: number;
  prefix: number;
  /** Number of addresses, network and broadcast included. */
  size: number;
  /** Normalized `a.b.c.d/n`. */
  text: string;
}

export function parseIPv4CIDR(text: string): IPv4CIDR | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIPv4(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if (ip === undefined || !/^(0|[1-9]\d?)$/.test(bits)) return undefined;
  const prefix = Number(bits);
  if (prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  const network = ip - (ip % size);
  return { network, prefix, size, text: `${formatIPv4(network)}/${prefix}` };
}

export function cidrContains(cidr: IPv4CIDR, ip: number): boolean {
  return ip >= cidr.network && ip < cidr.network + cidr.size;
}

/** In the range and neither its network nor its broadcast address (kube-apiserver never hands those out). */
export function isAllocatableIP(cidr: IPv4CIDR, ip: number): boolean {
  if (!cidrContains(cidr, ip)) return false;
  if (cidr.size < 4) return true;
  return ip !== cidr.network && ip !== cidr.network + cidr.size - 1;
}

export function parseServiceCIDR(serviceCIDR: string): IPv4CIDR {
  const cidr = parseIPv4CIDR(serviceCIDR);
  if (!cidr) throw new Error(`serviceCIDR: "${serviceCIDR}" is not an IPv4 CIDR (a.b.c.d/n)`);
  return cidr;
}

// ---- Service validation ----

export interface PortRange {
  min: number;
  max: number;
}

/** kube-apiserver's default --service-node-port-range. */
export const DEFAULT_NODE_PORT_RANGE: PortRange = { min: 30000, max: 32767 };

/** kube-apiserver's --service-cluster-ip-range default. */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/12';

export interface ServiceValidationOptions {
  serviceCIDR: string;
  nodePortRange?: PortRange;
}

export type ServiceValidation = { ok: true } | { ok: false; errors: string[] };

export const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;
export const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;
const AFFINITIES = ['ClientIP', 'None'] as const;
const TRAFFIC_POLICIES = ['Cluster', 'Local'] as const;
/** kube-apiserver's MaxClientIPServiceAffinitySeconds (one day). */
const MAX_AFFINITY_SECONDS = 86400;

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Absent in the API's sense: the zero value Go would decode. */
function absent(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === 0;
}

function oneOf<T extends string>(v: unknown, values: readonly T[]): v is T {
  return typeof v === 'string' && (values as readonly string[]).includes(v);
}

function validateMetadata(meta: unknown, errs: FieldError[]): void {
  if (!isJsonObject(meta)) {
    errs.push(fieldError.required('metadata.name', 'name or generateName is required'));
    return;
  }
  const { name, namespace } = meta;
  if (name === undefined || name === null || name === '') {
    errs.push(fieldError.required('metadata.name', 'name or generateName is required'));
  } else if (typeof name !== 'string') {
    errs.push(fieldError.typeMismatch('metadata.name', name, 'a string'));
  } else {
    for (const m of dns1035Label(name)) errs.push(fieldError.invalid('metadata.name', name, m));
  }
  if (namespace !== undefined && namespace !== null && namespace !== '') {
    if (typeof namespace !== 'string') errs.push(fieldError.typeMismatch('metadata.namespace', namespace, 'a string'));
    else for (const m of dns1123Label(namespace)) errs.push(fieldError.invalid('metadata.namespace', namespace, m));
  }
}

function validatePorts(spec: JsonObject, type: string, headless: boolean, range: PortRange, errs: FieldError[]): void {
  const ports = spec.ports;
  if (ports !== undefined && ports !== null && !Array.isArray(ports)) {
    errs.push(fieldError.typeMismatch('spec.ports', ports, 'a list'));
    return;
  }
  const list: unknown[] = ports ?? [];
  if (list.length === 0 && !headless && type !== 'ExternalName') errs.push(fieldError.required('spec.ports'));

  const names = new Set<string>();
  const portKeys = new Set<string>();
  const nodePortKeys = new Set<string>();
  list.forEach((p, i) => {
    const path = `spec.ports[${i}]`;
    if (!isJsonObject(p)) {
      errs.push(fieldError.typeMismatch(path, p, 'an object'));
      return;
    }
    const { name, protocol = 'TCP', port = 0, targetPort, nodePort } = p;
    if (name === undefined || name === null || name === '') {
      if (list.length > 1) errs.push(fieldError.required(`${path}.name`));
    } else if (typeof name !== 'string') {
      errs.push(fieldError.typeMismatch(`${path}.name`, name, 'a string'));
    } else {
      for (const m of dns1123Label(name)) errs.push(fieldError.invalid(`${path}.name`, name, m));
      if (names.has(name)) errs.push(fieldError.duplicate(`${path}.name`, name));
      names.add(name);
    }

    if (!oneOf(protocol, PROTOCOLS)) errs.push(fieldError.notSupported(`${path}.protocol`, protocol, PROTOCOLS));

    if (!isInt(port)) {
      errs.push(fieldError.typeMismatch(`${path}.port`, port, 'an integer'));
    } else {
      for (const m of portNumber(port)) errs.push(fieldError.invalid(`${path}.port`, port, m));
      const key = `${port}/${String(protocol)}`;
      if (portKeys.has(key)) errs.push(fieldError.duplicate(path, { port, protocol }));
      portKeys.add(key);
    }

    // 0 and "" are defaulted to the port by the apiserver.
    if (!absent(targetPort)) {
      if (isInt(targetPort)) for (const m of portNumber(targetPort)) errs.push(fieldError.invalid(`${path}.targetPort`, targetPort, m));
      else if (typeof targetPort === 'string') for (const m of portName(targetPort)) errs.push(fieldError.invalid(`${path}.targetPort`, targetPort, m));
      else errs.push(fieldError.typeMismatch(`${path}.targetPort`, targetPort, 'an integer or a string'));
    }

    if (!absent(nodePort)) {
      if (!isInt(nodePort)) {
        errs.push(fieldError.typeMismatch(`${path}.nodePort`, nodePort, 'an integer'));
      } else if (type === 'ClusterIP' || type === 'ExternalName') {
        errs.push(fieldError.forbidden(`${path}.nodePort`, `may not be used when \`type\` is '${type}'`));
      } else if (nodePort < range.min || nodePort > range.max) {
        const messages = portNumber(nodePort);
        if (!messages.length) messages.push(`provided port is not in the valid range. The range of valid ports is ${range.min}-${range.max}`);
        for (const m of messages) errs.push(fieldError.invalid(`${path}.nodePort`, nodePort, m));
      } else {
        const key = `${nodePort}/${String(protocol)}`;
        if (nodePortKeys.has(key)) errs.push(fieldError.duplicate(`${path}.nodePort`, nodePort));
        nodePortKeys.add(key);
      }
    }
  });
}

function validateSelector(selector: unknown, errs: FieldError[]): void {
  if (selector === undefined || selector === null) return;
  if (!isJsonObject(selector)) {
    errs.push(fieldError.typeMismatch('spec.selector', selector, 'a map of strings'));
    return;
  }
  for (const [key, value] of Object.entries(selector)) {
    for (const m of qualifiedName(key)) errs.push(fieldError.invalid('spec.selector', key, m));
    if (typeof value !== 'string') errs.push(fieldError.typeMismatch('spec.selector', value, 'a string'));
    else for (const m of labelValue(value)) errs.push(fieldError.invalid('spec.selector', value, m));
  }
}

function validateClusterIP(spec: JsonObject, type: string, cidr: IPv4CIDR, errs: FieldError[]): void {
  const { clusterIP, clusterIPs } = spec;
  if (clusterIPs !== undefined && clusterIPs !== null && !Array.isArray(clusterIPs)) {
    errs.push(fieldError.typeMismatch('spec.clusterIPs', clusterIPs, 'a list of strings'));
    return;
  }
  if (clusterIP !== undefined && clusterIP !== null && typeof clusterIP !== 'string') {
    errs.push(fieldError.typeMismatch('spec.clusterIP', clusterIP, 'a string'));
    return;
  }
  const ips: unknown[] = clusterIPs ?? [];
  const primary = clusterIP || ips[0];
  if (primary === undefined || primary === '') return;
  if (clusterIP && ips.length > 0 && ips[0] !== clusterIP) {
    errs.push(fieldError.invalid('spec.clusterIPs[0]', ips[0], 'must match `clusterIP` when both are set'));
    return;
  }
  const path = clusterIP ? 'spec.clusterIP' : 'spec.clusterIPs[0]';
  if (type === 'ExternalName') {
    errs.push(fieldError.forbidden(path, 'may not be set for ExternalName services'));
    return;
  }
  if (primary === 'None') {
    if (type !== 'ClusterIP') errs.push(fieldError.invalid(path, primary, `may not be set to 'None' for ${type} services`));
    return;
  }
  ips.forEach((ip, i) => {
    if (i === 0 && clusterIP) return;
    if (typeof ip !== 'string') errs.push(fieldError.typeMismatch(`spec.clusterIPs[${i}]`, ip, 'a string'));
    else for (const m of ipAddress(ip)) errs.push(fieldError.invalid(`spec.clusterIPs[${i}]`, ip, m));
  });
  if (typeof primary !== 'string') return;
  const candidates = [primary, ...ips.slice(1)].filter((ip): ip is string => typeof ip === 'string');
  // A dual-stack Service whose first family is IPv6 is served through its IPv4 address.
  const v4 = candidates.find((ip) => parseIPv4(ip) !== undefined);
  if (v4 === undefined) {
    if (isIP(primary) === 0) for (const m of ipAddress(primary)) errs.push(fieldError.invalid(path, primary, m));
    else errs.push(fieldError.invalid(path, primary, 'must be an IPv4 address: this proxy programs IPv4 Services only'));
    return;
  }
  const n = parseIPv4(v4) ?? 0;
  if (!isAllocatableIP(cidr, n)) {
    const at = v4 === primary ? path : `spec.clusterIPs[${ips.indexOf(v4)}]`;
    errs.push(fieldError.invalid(at, v4, `the provided IP (${v4}) is not in the valid range. The range of valid IPs is ${cidr.text}`));
  }
}

function validateAffinity(spec: JsonObject, errs: FieldError[]): void {
  const { sessionAffinity = 'None', sessionAffinityConfig } = spec;
  if (!oneOf(sessionAffinity, AFFINITIES)) {
    errs.push(fieldError.notSupported('spec.sessionAffinity', sessionAffinity, AFFINITIES));
    return;
  }
  if (sessionAffinityConfig === undefined || sessionAffinityConfig === null) return;
  if (sessionAffinity === 'None') {
    errs.push(fieldError.invalid('spec.sessionAffinityConfig', sessionAffinityConfig, 'must not be set when session affinity is None'));
    return;
  }
  if (!isJsonObject(sessionAffinityConfig)) {
    errs.push(fieldError.typeMismatch('spec.sessionAffinityConfig', sessionAffinityConfig, 'an object'));
    return;
  }
  const clientIP = sessionAffinityConfig.clientIP;
  if (clientIP === undefined || clientIP === null) return;
  const timeout = isJsonObject(clientIP) ? clientIP.timeoutSeconds : clientIP;
  if (timeout === undefined || timeout === null) return;
  if (!isInt(timeout) || timeout <= 0 || timeout > MAX_AFFINITY_SECONDS) {
    errs.push(
      fieldError.invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, `must be greater than 0 and less than ${MAX_AFFINITY_SECONDS}`),
    );
  }
}

/** The field errors of a Service, unrendered (empty = valid). */
export function serviceFieldErrors(svc: Service, options: ServiceValidationOptions): FieldError[] {
  const cidr = parseServiceCIDR(options.serviceCIDR);
  const range = options.nodePortRange ?? DEFAULT_NODE_PORT_RANGE;
  const errs: FieldError[] = [];
  const raw = svc as unknown;
  if (!isJsonObject(raw)) return [fieldError.typeMismatch('', raw, 'an object')];
  validateMetadata(raw.metadata, errs);
  const spec: JsonObject = isJsonObject(raw.spec) ? raw.spec : {};

  const type = spec.type ?? 'ClusterIP';
  if (!oneOf(type, SERVICE_TYPES)) {
    errs.push(fieldError.notSupported('spec.type', type, SERVICE_TYPES));
    return errs;
  }
  const headless = spec.clusterIP === 'None' || (Array.isArray(spec.clusterIPs) && spec.clusterIPs[0] === 'None');
  validatePorts(spec, type, headless, range, errs);
  validateSelector(spec.selector, errs);
  validateClusterIP(spec, type, cidr, errs);
  validateAffinity(spec, errs);

  if (type === 'ExternalName') {
    const { externalName } = spec;
    if (externalName === undefined || externalName === null || externalName === '') errs.push(fieldError.required('spec.externalName'));
    else if (typeof externalName !== 'string') errs.push(fieldError.typeMismatch('spec.externalName', externalName, 'a string'));
    else for (const m of dns1123Subdomain(externalName.replace(/\.$/, ''))) errs.push(fieldError.invalid('spec.externalName', externalName, m));
  }

  const { externalIPs } = spec;
  if (externalIPs !== undefined && externalIPs !== null) {
    if (!Array.isArray(externalIPs)) errs.push(fieldError.typeMismatch('spec.externalIPs', externalIPs, 'a list of strings'));
    else
      externalIPs.forEach((ip: unknown, i) => {
        if (typeof ip !== 'string') errs.push(fieldError.typeMismatch(`spec.externalIPs[${i}]`, ip, 'a string'));
        else for (const m of ipAddress(ip)) errs.push(fieldError.invalid(`spec.externalIPs[${i}]`, ip, m));
      });
  }

  for (const field of ['externalTrafficPolicy', 'internalTrafficPolicy'] as const) {
    const v = spec[field];
    if (v !== undefined && v !== null && v !== '' && !oneOf(v, TRAFFIC_POLICIES)) {
      errs.push(fieldError.notSupported(`spec.${field}`, v, TRAFFIC_POLICIES));
    }
  }
  return errs;
}

/**
 * Checks a Service as the apiserver would. Each error names where the object came
 * from (`where`: a manifest file and document, or "apiserver"; may be empty), the
 * Service and the field, e.g.
 * `svc.yaml#0: Service "default/web": spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive`.
 * Headless and ExternalName Services are valid; they are simply never programmed.
 */
export function validateService(svc: Service, where: string, options: ServiceValidationOptions): ServiceValidation {
  const errs = serviceFieldErrors(svc, options);
  if (errs.length === 0) return { ok: true };
  const prefix = `${where ? `${where}: ` : ''}Service ${JSON.stringify(serviceKeyOf(svc))}: `;
  return { ok: false, errors: [...new Set(errs.map(renderFieldError))].map((e) => prefix + e) };
}
