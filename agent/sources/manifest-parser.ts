// Splits a manifest file into its documents. YAML is read with YAML 1.1 rules as
// Kubernetes reads it (sigs.k8s.io/yaml): `0644` is octal 420 and `yes` is true.
// Every document comes back with its kind, so callers keep the Pods and skip the
// rest; a syntax error becomes one entry naming the file and the line.
import { basename, extname } from 'node:path';
import { isJsonObject } from '../api/json-object.js';
import { parseAllDocuments, type ParseOptions, type DocumentOptions, type SchemaOptions } from 'yaml';

export interface ParsedManifest {
  path: string;
  /** Position among the file's documents (0-based; each item of a List counts as one). */
  index: number;
  /** `kind` of the document; undefined when it has none or did not parse. */
  kind: string | undefined;
  apiVersion?: string;
  object?: Record<string, unknown>;
  /** Why the document could not be read, naming the file and line. */
  error?: string;
}

export const MANIFEST_EXTENSIONS: readonly string[] = ['.yaml', '.yml', '.json'];

/** kubelet ignores hidden files (editors' swap files, half-written temp files). */
export function isManifestFileName(path: string): boolean {
  const name = basename(path);
  return !name.startsWith('.') && MANIFEST_EXTENSIONS.includes(extname(name).toLowerCase());
}

const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  // sigs.k8s.io/yaml (go-yaml v2) keeps timestamps and sexagesimal numbers ("1:30")
  // as strings; the yaml package's 1.1 schema would make them Dates and numbers.
  customTags: (tags) => tags.filter((t) => typeof t === 'string' || (t.tag !== 'tag:yaml.org,2002:timestamp' && t.format !== 'TIME')),
};

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a sequence';
  return `a ${typeof v}`;
}

/** Documents of a file; a List (or PodList) is split into its items. */
export function parseManifestFile(path: string, text: string): ParsedManifest[] {
  if (!isManifestFileName(path)) return [];
  const out: ParsedManifest[] = [];
  const push = (entry: Omit<ParsedManifest, 'path' | 'index'>) => out.push({ path, index: out.length, ...entry });
  const addObject = (value: unknown) => {
    if (value === null || value === undefined) return;
    if (!isJsonObject(value)) {
      push({ kind: undefined, error: `${path}: document ${out.length} is ${describe(value)}, not an object` });
      return;
    }
    const kind = typeof value.kind === 'string' ? value.kind : undefined;
    const apiVersion = typeof value.apiVersion === 'string' ? value.apiVersion : undefined;
    if ((kind === 'List' || kind === 'PodList') && Array.isArray(value.items)) {
      for (const item of value.items) {
        // PodList items need not repeat kind and apiVersion.
        if (kind === 'PodList' && isJsonObject(item)) addObject({ kind: 'Pod', apiVersion, ...item });
        else addObject(item ?? {});
      }
      return;
    }
    push({ kind, apiVersion, object: value });
  };

  if (extname(path).toLowerCase() === '.json') {
    if (text.trim() === '') return [];
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      push({ kind: undefined, error: jsonErrorMessage(path, text, err as Error) });
      return out;
    }
    addObject(value);
    return out;
  }

  for (const doc of parseAllDocuments(text, YAML_OPTIONS)) {
    const first = doc.errors[0];
    if (first) {
      const pos = first.linePos?.[0];
      const where = pos ? `line ${pos.line}, column ${pos.col}` : 'unknown position';
      const what = (first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      push({ kind: undefined, error: `${path}: ${where}: ${what}` });
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      push({ kind: undefined, error: `${path}: document ${out.length}: ${(err as Error).message}` });
      continue;
    }
    addObject(value);
  }
  return out;
}

function jsonErrorMessage(path: string, text: string, err: Error): string {
  const message = err.message.replace(/ in JSON at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)$/, '');
  const lineCol = /line (\d+) column (\d+)/.exec(err.message);
  if (lineCol) return `${path}: line ${lineCol[1]}, column ${lineCol[2]}: ${message}`;
  const position = /position (\d+)/.exec(err.message);
  if (position) {
    const before = text.slice(0, Number(position[1]));
    const line = before.split('\n').length;
    const col = Number(position[1]) - before.lastIndexOf('\n');
    return `${path}: line ${line}, column ${col}: ${message}`;
  }
  return `${path}: ${message}`;
}
