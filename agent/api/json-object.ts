// Untyped input (manifests, API objects read as JSON or YAML) is walked field by
// field; this is the one test for "a JSON object here".

export type JsonObject = Record<string, unknown>;

/**
 * A JSON object: not null, not an array, and not the bytes a YAML `!!binary`
 * value decodes to (a Uint8Array would pass a plain typeof test).
 */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
