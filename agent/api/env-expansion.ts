// Kubernetes `$(VAR)` references in env values, command and args. The rules are
// the API's, not a shell's: `$$` is an escaped `$`, a reference to an unknown name
// stays as written (so `$(HOME)` reaches the shell untouched), an unterminated `$(`
// is literal, and a `$` before anything else is literal too.

/** Returns the variable's value, or undefined when it is not defined. */
export type VariableLookup = (name: string) => string | undefined;

export function expand(input: string, lookup: VariableLookup): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const dollar = input.indexOf('$', i);
    // A trailing `$` has nothing to introduce: literal.
    if (dollar === -1 || dollar === input.length - 1) {
      out += input.slice(i);
      break;
    }
    out += input.slice(i, dollar);
    const next = input[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
    } else if (next === '(') {
      const close = input.indexOf(')', dollar + 2);
      if (close === -1) {
        // Unterminated: keep `$(` and go on scanning after it, as Kubernetes does.
        out += '$(';
        i = dollar + 2;
      } else {
        const name = input.slice(dollar + 2, close);
        out += lookup(name) ?? `$(${name})`;
        i = close + 1;
      }
    } else {
      out += '$';
      i = dollar + 1;
    }
  }
  return out;
}

/** A lookup over name→value maps, the first map that defines the name winning. */
export function lookupIn(...maps: Array<ReadonlyMap<string, string>>): VariableLookup {
  return (name) => {
    for (const map of maps) {
      const value = map.get(name);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}
