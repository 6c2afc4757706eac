// The JSON-shape checker of API validation: reads the fields of untyped input
// (a manifest never passed through an apiserver) with their JSON type checked,
// and gathers field errors worded as the apiserver words them. The rules of a
// kind (the pod's, the Service's) are written on top of it.
import { isJsonObject, type JsonObject } from '../json-object.js';
import { InvalidQuantityError, parseQuantity, QUANTITY_SYNTAX_MESSAGE } from '../quantity.js';
import { fieldError, type FieldError } from './field-errors.js';
import { portName, portNumber } from './rules.js';

/** Absent in the JSON sense: missing or null. */
export function absent(v: unknown): v is undefined | null {
  return v === undefined || v === null;
}

/** Accumulates errors and reads fields with their JSON type checked. */
export class Checker {
  readonly errors: FieldError[] = [];

  add(...errors: FieldError[]): void {
    this.errors.push(...errors);
  }

  /** Adds one Invalid error per message of a rule. */
  rule(path: string, value: unknown, messages: string[]): void {
    for (const m of messages) this.add(fieldError.invalid(path, value, m));
  }

  private mismatch(path: string, value: unknown, expected: string): undefined {
    this.add(fieldError.typeMismatch(path, value, expected));
    return undefined;
  }

  obj(v: unknown, path: string): JsonObject | undefined {
    if (absent(v)) return undefined;
    return isJsonObject(v) ? v : this.mismatch(path, v, 'an object');
  }

  arr(v: unknown, path: string): unknown[] | undefined {
    if (absent(v)) return undefined;
    return Array.isArray(v) ? v : this.mismatch(path, v, 'an array');
  }

  /** Each element of an array that must be an object, with its index. */
  objects(v: unknown, path: string): Array<[JsonObject, number]> {
    const out: Array<[JsonObject, number]> = [];
    (this.arr(v, path) ?? []).forEach((item, i) => {
      if (isJsonObject(item)) out.push([item, i]);
      else this.mismatch(`${path}[${i}]`, item, 'an object');
    });
    return out;
  }

  str(v: unknown, path: string): string | undefined {
    if (absent(v)) return undefined;
    return typeof v === 'string' ? v : this.mismatch(path, v, 'a string');
  }

  int(v: unknown, path: string): number | undefined {
    if (absent(v)) return undefined;
    return typeof v === 'number' && Number.isInteger(v) ? v : this.mismatch(path, v, 'an integer');
  }

  bool(v: unknown, path: string): boolean | undefined {
    if (absent(v)) return undefined;
    return typeof v === 'boolean' ? v : this.mismatch(path, v, 'a boolean');
  }

  strings(v: unknown, path: string): string[] | undefined {
    const list = this.arr(v, path);
    if (!list) return undefined;
    let ok = true;
    list.forEach((item, i) => {
      if (typeof item !== 'string') {
        ok = false;
        this.mismatch(`${path}[${i}]`, item, 'a string');
      }
    });
    return ok ? (list as string[]) : undefined;
  }

  /** A map of strings (labels, annotations, nodeSelector): each bad value named by its key. */
  stringMap(v: unknown, path: string): Record<string, string> | undefined {
    const map = this.obj(v, path);
    if (!map) return undefined;
    let ok = true;
    for (const [k, val] of Object.entries(map)) {
      if (typeof val !== 'string') {
        ok = false;
        this.mismatch(`${path}[${k}]`, val, 'a string');
      }
    }
    return ok ? (map as Record<string, string>) : undefined;
  }

  /** An int-or-string port (probes, handlers): a number 1..65535 or a port name. */
  portRef(v: unknown, path: string): void {
    if (absent(v)) {
      this.add(fieldError.required(path));
      return;
    }
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) this.mismatch(path, v, 'an integer or a port name');
      else this.rule(path, v, portNumber(v));
    } else if (typeof v === 'string') {
      this.rule(path, v, portName(v));
    } else {
      this.mismatch(path, v, 'an integer or a port name');
    }
  }

  /** A resource quantity; its value in base units (to compare a request with a limit), or undefined when absent or bad. */
  quantity(v: unknown, path: string): number | undefined {
    if (absent(v)) return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') return this.mismatch(path, v, 'a quantity (a string like "100m" or "64Mi", or a number)');
    let value: number;
    try {
      value = parseQuantity(v);
    } catch (err) {
      if (!(err instanceof InvalidQuantityError)) throw err;
      this.add(fieldError.invalid(path, v, QUANTITY_SYNTAX_MESSAGE));
      return undefined;
    }
    if (value < 0) {
      this.add(fieldError.invalid(path, v, 'must be greater than or equal to 0'));
      return undefined;
    }
    return value;
  }

  /** Exactly one of `kinds` set in `holder`; reports none (Required) or several (Forbidden). */
  oneOf(holder: JsonObject, kinds: readonly string[], path: string, none: string, many: string): string | undefined {
    const set = kinds.filter((k) => !absent(holder[k]));
    if (set.length === 0) {
      this.add(fieldError.required(path, none));
      return undefined;
    }
    for (const extra of set.slice(1)) this.add(fieldError.forbidden(`${path}.${extra}`, many));
    return set[0];
  }

  nonNegative(v: unknown, path: string): void {
    const n = this.int(v, path);
    if (n !== undefined && n < 0) this.add(fieldError.invalid(path, n, 'must be greater than or equal to 0'));
  }

  atLeastOne(v: unknown, path: string): void {
    const n = this.int(v, path);
    if (n !== undefined && n < 1) this.add(fieldError.invalid(path, n, 'must be greater than or equal to 1'));
  }

  enumerated(v: unknown, path: string, supported: readonly string[]): string | undefined {
    const s = this.str(v, path);
    if (s !== undefined && !supported.includes(s)) this.add(fieldError.notSupported(path, s, supported));
    return s;
  }
}
