// The validation rules of the real registry that a node agent can trip over:
// names, labels, the pod's containers, an Event's namespace, a Lease's duration.
// Each failure is a cause with the field path, as a 422 Invalid carries it.
import { invalid } from './errors.js';
import { isMap, type JsonMap } from './json-value.js';
import { isDnsLabel, isDnsSubdomain, isLabelKey, isLabelValue } from './names.js';
import type { ResourceDef } from './resources.js';

export interface FieldCause {
  reason: string;
  field: string;
  message: string;
}

const required = (field: string, what = 'Required value'): FieldCause => ({ reason: 'FieldValueRequired', field, message: what });
const badValue = (field: string, value: unknown, why: string): FieldCause => ({
  reason: 'FieldValueInvalid',
  field,
  message: `Invalid value: ${JSON.stringify(value)}: ${why}`,
});

function metaCauses(def: ResourceDef, meta: JsonMap): FieldCause[] {
  const causes: FieldCause[] = [];
  const name = meta.name;
  if (typeof name !== 'string' || name === '') {
    causes.push(required('metadata.name', 'Required value: name or generateName is required'));
  } else if (def.kind === 'Namespace' ? !isDnsLabel(name) : !isDnsSubdomain(name)) {
    causes.push(
      badValue(
        'metadata.name',
        name,
        def.kind === 'Namespace'
          ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
          : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      ),
    );
  }
  const labels = meta.labels;
  if (labels !== undefined && labels !== null) {
    if (!isMap(labels)) causes.push(badValue('metadata.labels', labels, 'must be a map of strings'));
    else {
      for (const [k, v] of Object.entries(labels)) {
        if (!isLabelKey(k)) causes.push(badValue('metadata.labels', k, 'a valid label key must be [prefix/]name'));
        if (typeof v !== 'string' || !isLabelValue(v))
          causes.push(
            badValue(`metadata.labels.${k}`, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.' (at most 63)"),
          );
      }
    }
  }
  const annotations = meta.annotations;
  if (annotations !== undefined && annotations !== null) {
    if (!isMap(annotations)) causes.push(badValue('metadata.annotations', annotations, 'must be a map of strings'));
    else {
      for (const [k, v] of Object.entries(annotations)) {
        if (!isLabelKey(k)) causes.push(badValue('metadata.annotations', k, 'a valid annotation key must be [prefix/]name'));
        if (typeof v !== 'string') causes.push(badValue(`metadata.annotations.${k}`, v, 'annotation values must be strings'));
      }
    }
  }
  return causes;
}

function podCauses(pod: JsonMap): FieldCause[] {
  const causes: FieldCause[] = [];
  const spec = isMap(pod.spec) ? pod.spec : {};
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) causes.push(required('spec.containers'));
  const seen = new Set<string>();
  for (const list of ['initContainers', 'containers'] as const) {
    const items = spec[list];
    if (!Array.isArray(items)) continue;
    items.forEach((c, i) => {
      const at = `spec.${list}[${i}]`;
      const name = isMap(c) ? c.name : undefined;
      if (typeof name !== 'string' || name === '') causes.push(required(`${at}.name`));
      else if (!isDnsLabel(name)) causes.push(badValue(`${at}.name`, name, 'must be a DNS label'));
      else if (seen.has(name)) causes.push({ reason: 'FieldValueDuplicate', field: `${at}.name`, message: `Duplicate value: "${name}"` });
      else seen.add(name);
      if (!isMap(c) || typeof c.image !== 'string' || c.image === '') causes.push(required(`${at}.image`));
    });
  }
  const policy = spec.restartPolicy;
  if (policy !== undefined && !['Always', 'OnFailure', 'Never'].includes(policy as string)) {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.restartPolicy',
      message: `Unsupported value: ${JSON.stringify(policy)}: supported values: "Always", "OnFailure", "Never"`,
    });
  }
  return causes;
}

function eventCauses(event: JsonMap, namespace: string): FieldCause[] {
  const involved = isMap(event.involvedObject) ? event.involvedObject : {};
  const ns = typeof involved.namespace === 'string' ? involved.namespace : '';
  // A cluster-scoped object's events live in "default" (or no namespace); others in the object's own.
  const ok = ns === '' ? namespace === '' || namespace === 'default' : ns === namespace;
  return ok ? [] : [badValue('involvedObject.namespace', ns, 'does not match event.namespace')];
}

function leaseCauses(lease: JsonMap): FieldCause[] {
  const spec = isMap(lease.spec) ? lease.spec : {};
  const d = spec.leaseDurationSeconds;
  return d !== undefined && d !== null && (typeof d !== 'number' || d <= 0) ? [badValue('spec.leaseDurationSeconds', d, 'must be greater than 0')] : [];
}

/** Throws a 422 Invalid naming every bad field of `obj` (already defaulted, with its final name). */
export function validateObject(def: ResourceDef, obj: JsonMap): void {
  const meta = isMap(obj.metadata) ? obj.metadata : {};
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : '';
  const causes = [
    ...metaCauses(def, meta),
    ...(def.kind === 'Pod' ? podCauses(obj) : []),
    ...(def.kind === 'Event' ? eventCauses(obj, namespace) : []),
    ...(def.kind === 'Lease' ? leaseCauses(obj) : []),
  ];
  if (causes.length > 0) throw invalid(def, typeof meta.name === 'string' ? meta.name : '', causes);
}
