// Chain names exactly as kube-proxy derives them, so an operator's knowledge (and
// grep) carries over: iptables `KUBE-SVC-<16 chars>` from base32(sha256(...)), and the
// nftables mode's readable `service-<8 chars>-ns/name/proto/port`.
// Hashing 60,000 names per sync would dominate a full sync, so every name is
// memoised per Service port; the caches are dropped wholesale when they grow past a
// bound so churn cannot grow them forever.
import { hash } from 'node:crypto';
import { servicePortNameString, type ServicePortName } from './service-model.js';

export const SERVICE_CLUSTER_CHAIN_PREFIX = 'KUBE-SVC-';
export const SERVICE_LOCAL_CHAIN_PREFIX = 'KUBE-SVL-';
export const SERVICE_EXTERNAL_CHAIN_PREFIX = 'KUBE-EXT-';
export const SERVICE_FIREWALL_CHAIN_PREFIX = 'KUBE-FW-';
export const ENDPOINT_CHAIN_PREFIX = 'KUBE-SEP-';

const PER_SERVICE_PREFIXES = [
  SERVICE_CLUSTER_CHAIN_PREFIX,
  SERVICE_LOCAL_CHAIN_PREFIX,
  SERVICE_EXTERNAL_CHAIN_PREFIX,
  SERVICE_FIREWALL_CHAIN_PREFIX,
  ENDPOINT_CHAIN_PREFIX,
];

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const CACHE_LIMIT = 400_000;

// SHA-256 (FIPS 180-4) for ASCII strings, in JS: names are DNS labels and IPs, and for
// inputs this short the native one-shot hash costs twice as much in call overhead as
// the rounds themselves (60,000 names on a cold start). The unit test checks it
// against node:crypto; anything non-ASCII goes to node:crypto.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74,
  0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d,
  0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e,
  0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
  0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W = new Int32Array(64);
const H = new Int32Array(8);
const DIGEST = new Uint8Array(32);

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return false;
  return true;
}

/** sha256 of an ASCII string into DIGEST (shared scratch; callers copy what they keep). */
function sha256AsciiInto(s: string): Uint8Array {
  const len = s.length;
  const blocks = ((len + 8) >> 6) + 1;
  H[0] = 0x6a09e667;
  H[1] = 0xbb67ae85;
  H[2] = 0x3c6ef372;
  H[3] = 0xa54ff53a;
  H[4] = 0x510e527f;
  H[5] = 0x9b05688c;
  H[6] = 0x1f83d9ab;
  H[7] = 0x5be0cd19;
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 16; i++) {
      let w = 0;
      for (let j = 0; j < 4; j++) {
        const at = b * 64 + i * 4 + j;
        w = (w << 8) | (at < len ? s.charCodeAt(at) : at === len ? 0x80 : 0);
      }
      W[i] = w;
    }
    if (b === blocks - 1) {
      W[14] = len >>> 29;
      W[15] = len << 3;
    }
    for (let i = 16; i < 64; i++) {
      const w15 = W[i - 15]!;
      const w2 = W[i - 2]!;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
    }
    let a: number = H[0]!,
      bb: number = H[1]!,
      c: number = H[2]!,
      d: number = H[3]!;
    let e: number = H[4]!,
      f: number = H[5]!,
      g: number = H[6]!,
      h: number = H[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + t2) | 0;
    }
    H[0] = (H[0]! + a) | 0;
    H[1] = (H[1]! + bb) | 0;
    H[2] = (H[2]! + c) | 0;
    H[3] = (H[3]! + d) | 0;
    H[4] = (H[4]! + e) | 0;
    H[5] = (H[5]! + f) | 0;
    H[6] = (H[6]! + g) | 0;
    H[7] = (H[7]! + h) | 0;
  }
  for (let i = 0; i < 8; i++) {
    const v = H[i]!;
    DIGEST[i * 4] = v >>> 24;
    DIGEST[i * 4 + 1] = (v >>> 16) & 255;
    DIGEST[i * 4 + 2] = (v >>> 8) & 255;
    DIGEST[i * 4 + 3] = v & 255;
  }
  return DIGEST;
}

/** sha256 of the UTF-8 bytes of `input` (exported for the test that pins it to node:crypto). */
export function sha256(input: string): Uint8Array {
  return isAscii(input) ? sha256AsciiInto(input).slice() : new Uint8Array(hash('sha256', input, 'buffer'));
}

/** The first `chars` characters of the standard (RFC 4648) base32 encoding of sha256(input). */
function sha256Base32Prefix(input: string, chars: number): string {
  const digest = isAscii(input) ? sha256AsciiInto(input) : hash('sha256', input, 'buffer');
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; out.length < chars; i++) {
    acc = ((acc << 8) | (digest[i] ?? 0)) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      bits -= 5;
      out += BASE32[(acc >>> bits) & 31];
    }
  }
  return out;
}

function memo(cache: Map<string, string>, key: string, make: () => string): string {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  if (cache.size >= CACHE_LIMIT) cache.clear();
  const value = make();
  cache.set(key, value);
  return value;
}

const iptablesHashes = new Map<string, string>();

/** kube-proxy's portProtoHash: base32(sha256(servicePortName + protocol))[:16]. */
export function portProtoHash(servicePortName: string, protocol: string): string {
  const input = servicePortName + protocol;
  return memo(iptablesHashes, input, () => sha256Base32Prefix(input, 16));
}

function lowerProtocol(n: ServicePortName): string {
  return n.protocol === 'TCP' ? 'tcp' : n.protocol === 'UDP' ? 'udp' : 'sctp';
}

/** Every name derived from one Service port, computed once and kept while the port exists. */
export interface ServiceChainNames {
  /** `ns/name:port` (kube-proxy's ServicePortName.String()). */
  readonly nameString: string;
  /** tcp / udp / sctp. */
  readonly protocol: string;
  readonly cluster: string;
  readonly local: string;
  readonly external: string;
  readonly firewall: string;
  /** nftables "HASH-ns/name/proto/port". */
  readonly nftBase: string;
  /** KUBE-SEP- chain of one endpoint. */
  endpoint(ip: string, port: number): string;
  /** nftables "HASH-ns/name/proto/port__ip/port". */
  nftEndpointBase(ip: string, port: number): string;
}

interface EndpointNames {
  port: number;
  sep?: string;
  nft?: string;
}

const ENDPOINTS_PER_SERVICE_LIMIT = 4096;

class NamesOfServicePort implements ServiceChainNames {
  readonly nameString: string;
  readonly protocol: string;
  readonly cluster: string;
  readonly local: string;
  readonly external: string;
  readonly firewall: string;
  private nft?: string;
  // Keyed by the endpoint's ip string (no key string to build per lookup); ports of one ip are few.
  private readonly endpoints = new Map<string, EndpointNames[]>();

  constructor(readonly source: ServicePortName) {
    this.nameString = servicePortNameString(source);
    this.protocol = lowerProtocol(source);
    const h = portProtoHash(this.nameString, this.protocol);
    this.cluster = SERVICE_CLUSTER_CHAIN_PREFIX + h;
    this.local = SERVICE_LOCAL_CHAIN_PREFIX + h;
    this.external = SERVICE_EXTERNAL_CHAIN_PREFIX + h;
    this.firewall = SERVICE_FIREWALL_CHAIN_PREFIX + h;
  }

  get nftBase(): string {
    return (this.nft ??= hashAndPrefix(`${this.source.namespace}/${this.source.name}/${this.protocol}/${this.source.port}`));
  }

  matches(n: ServicePortName): boolean {
    const s = this.source;
    return s.namespace === n.namespace && s.name === n.name && s.port === n.port && s.protocol === n.protocol;
  }

  private entry(ip: string, port: number): EndpointNames {
    let list = this.endpoints.get(ip);
    if (!list) {
      if (this.endpoints.size >= ENDPOINTS_PER_SERVICE_LIMIT) this.endpoints.clear();
      list = [];
      this.endpoints.set(ip, list);
    }
    for (const e of list) if (e.port === port) return e;
    const e: EndpointNames = { port };
    list.push(e);
    return e;
  }

  endpoint(ip: string, port: number): string {
    const e = this.entry(ip, port);
    return (e.sep ??= ENDPOINT_CHAIN_PREFIX + sha256Base32Prefix(`${this.nameString}${this.protocol}${ip}:${port}`, 16));
  }

  nftEndpointBase(ip: string, port: number): string {
    const e = this.entry(ip, port);
    return (e.nft ??= hashAndPrefix(`${this.source.namespace}/${this.source.name}/${this.protocol}/${this.source.port}__${ip}/${port}`));
  }
}

// First by the name object's identity (cheapest when a model object lives across
// syncs), verified field by field so an object changed in place can never yield a
// stale name; then by its text, for a model rebuilt every sync.
const byObject = new WeakMap<ServicePortName, NamesOfServicePort>();
const byText = new Map<string, NamesOfServicePort>();

export function serviceChainNames(n: ServicePortName): ServiceChainNames {
  const known = byObject.get(n);
  if (known?.matches(n)) return known;
  const text = `${servicePortNameString(n)}/${n.protocol}`;
  let names = byText.get(text);
  if (!names) {
    if (byText.size >= CACHE_LIMIT / 8) byText.clear();
    names = new NamesOfServicePort({ namespace: n.namespace, name: n.name, port: n.port, protocol: n.protocol });
    byText.set(text, names);
  }
  byObject.set(n, names);
  return names;
}

/** KUBE-SVC-: spreads over the endpoints for Cluster traffic policy. */
export function serviceClusterChain(n: ServicePortName): string {
  return serviceChainNames(n).cluster;
}

/** KUBE-SVL-: spreads over this node's endpoints for Local traffic policy. */
export function serviceLocalChain(n: ServicePortName): string {
  return serviceChainNames(n).local;
}

/** KUBE-EXT-: NodePort / external IP / load-balancer traffic, before the policy chain. */
export function serviceExternalChain(n: ServicePortName): string {
  return serviceChainNames(n).external;
}

/** KUBE-FW-: loadBalancerSourceRanges filtering (not in the model yet; the name is reserved). */
export function serviceFirewallChain(n: ServicePortName): string {
  return serviceChainNames(n).firewall;
}

/** KUBE-SEP-: one endpoint; base32(sha256(servicePortName + protocol + "ip:port"))[:16]. */
export function endpointChain(n: ServicePortName, ip: string, port: number): string {
  return serviceChainNames(n).endpoint(ip, port);
}

/** One of the per-Service or per-endpoint chains (ours to delete when no longer wanted). */
export function isServiceChainName(chain: string): boolean {
  for (const p of PER_SERVICE_PREFIXES) if (chain.startsWith(p)) return true;
  return false;
}

// ---- nftables ----

/** kube-proxy's hashAndTruncate: "<8 chars of base32(sha256(name))>-<name>" (our names never reach its length cap). */
function hashAndPrefix(name: string): string {
  return `${sha256Base32Prefix(name, 8)}-${name}`;
}

/**
 * "HASH-ns/name/proto/portName", e.g. "ULMVA6XW-ns1/svc1/tcp/p80". Namespace, name and
 * port name are DNS labels, so every character is legal in an nftables identifier, and
 * "/" (never in a label) separates them unambiguously.
 */
export function nftServiceChainBase(n: ServicePortName): string {
  return serviceChainNames(n).nftBase;
}

/** "HASH-ns/name/proto/portName__ip/port", e.g. "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80": names an endpoint's affinity set. */
export function nftEndpointChainBase(n: ServicePortName, ip: string, port: number): string {
  return serviceChainNames(n).nftEndpointBase(ip, port);
}

export const NFT_SERVICE_CHAIN_PREFIX = 'service-';
export const NFT_LOCAL_CHAIN_PREFIX = 'local-';
export const NFT_EXTERNAL_CHAIN_PREFIX = 'external-';
export const NFT_AFFINITY_SET_PREFIX = 'affinity-';
