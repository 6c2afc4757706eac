// Kubernetes resource quantities ("500m", "1.5Gi", "1e3", 2). Parsed exactly with
// BigInt: a float would turn "0.1" CPU into 100.00000000000001 millicores and round
// it up to 101, where Kubernetes says 100.
import type { Quantity } from './types.js';

export class InvalidQuantityError extends Error {
  readonly value: string;
  constructor(value: string, why: string) {
    super(`invalid quantity "${value}": ${why}`);
    this.name = 'InvalidQuantityError';
    this.value = value;
  }
}

/** A quantity as sign · mantissa · 10^exp10 · 2^exp2, with no rounding. */
interface ExactQuantity {
  negative: boolean;
  mantissa: bigint;
  exp10: number;
  exp2: number;
}

const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
/** The apiserver's words for a value that is not a quantity at all (validation reports it as is). */
export const QUANTITY_SYNTAX_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const SUFFIX_HELP = 'expected a number with an optional suffix (Ki Mi Gi Ti Pi Ei, n u m k M G T P E) or an exponent (1e3)';
// Far beyond any real resource; keeps BigInt powers small for nonsense like "1e999999".
const MAX_EXPONENT = 400;

function parseExact(q: Quantity): ExactQuantity {
  let text: string;
  if (typeof q === 'number') {
    if (!Number.isFinite(q)) throw new InvalidQuantityError(String(q), 'not a finite number');
    text = String(q);
  } else if (typeof q === 'string') {
    text = q;
  } else {
    throw new InvalidQuantityError(String(q), `expected a string or a number, got ${typeof q}`);
  }
  const m = /^([+-]?)(\d+\.?\d*|\.\d+)(.*)$/.exec(text);
  if (!m) throw new InvalidQuantityError(text, SUFFIX_HELP);
  const [, sign = '', number = '', suffix = ''] = m;

  let exp10: number;
  let exp2 = 0;
  if (suffix in BINARY_SUFFIXES) {
    exp10 = 0;
    exp2 = BINARY_SUFFIXES[suffix] ?? 0;
  } else if (suffix in DECIMAL_SUFFIXES) {
    exp10 = DECIMAL_SUFFIXES[suffix] ?? 0;
  } else {
    const e = /^[eE]([+-]?\d+)$/.exec(suffix);
    if (!e) throw new InvalidQuantityError(text, `unknown suffix "${suffix}"; ${SUFFIX_HELP}`);
    exp10 = Number(e[1]);
    if (!Number.isSafeInteger(exp10) || Math.abs(exp10) > MAX_EXPONENT) {
      throw new InvalidQuantityError(text, 'exponent out of range');
    }
  }

  const [whole = '', fraction = ''] = number.split('.');
  const mantissa = BigInt(whole + fraction || '0');
  return { negative: sign === '-' && mantissa !== 0n, mantissa, exp10: exp10 - fraction.length, exp2 };
}

/** The value times 10^scale10, rounded away from zero (Kubernetes' ScaledValue rounds up). */
function scaledRoundUp(q: ExactQuantity, scale10: number): bigint {
  const numerator = q.mantissa << BigInt(q.exp2);
  const e = q.exp10 + scale10;
  let magnitude: bigint;
  if (e >= 0) {
    magnitude = numerator * 10n ** BigInt(e);
  } else {
    const divisor = 10n ** BigInt(-e);
    magnitude = (numerator + divisor - 1n) / divisor;
  }
  return q.negative ? -magnitude : magnitude;
}

/** The quantity in base units (bytes or cores) as a float: "1.5Gi" → 1610612736, "250m" → 0.25. */
export function parseQuantity(q: Quantity): number {
  const exact = parseExact(q);
  const value = Number(`${exact.mantissa}e${exact.exp10}`) * 2 ** exact.exp2;
  return exact.negative ? -value : value;
}

/** CPU in millicores, rounded up as Kubernetes' MilliValue does: "0.5" → 500, "1n" → 1. */
export function parseCPUToMilli(q: Quantity): number {
  return Number(scaledRoundUp(parseExact(q), 3));
}

/** Memory (or any byte quantity) in bytes, rounded up as Kubernetes' Value does: "1Mi" → 1048576. */
export function parseMemoryToBytes(q: Quantity): number {
  return Number(scaledRoundUp(parseExact(q), 0));
}

/**
 * ceil(value / divisor) on exact quantities, both scaled by 10^scale10 first (3 for
 * CPU in millicores, 0 for bytes) — the downward API's conversion of a resource to
 * the unit of its divisor. A zero divisor means 1, as kubelet treats an unset one.
 */
export function divideRoundUp(value: Quantity, divisor: Quantity | undefined, scale10: 0 | 3): number {
  const v = scaledRoundUp(parseExact(value), scale10);
  let d = divisor === undefined ? 0n : scaledRoundUp(parseExact(divisor), scale10);
  if (d === 0n) d = scale10 === 3 ? 1000n : 1n;
  if (d < 0n) throw new InvalidQuantityError(String(divisor), 'divisor must be positive');
  const q = v >= 0n ? (v + d - 1n) / d : -(-v / d);
  return Number(q);
}
