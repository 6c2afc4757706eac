// JSON patch (RFC 6902) over JSON pointers (RFC 6901): add, remove, replace, move, copy, test.
import { clone, deepEqual, isMap } from './json-value.js';
import { MalformedPatchError, PatchApplyError } from './patch-errors.js';

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new MalformedPatchError(`JSON pointer "${pointer}" must start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(arr: unknown[], token: string, forInsert: boolean, pointer: string): number {
  if (forInsert && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new PatchApplyError(`invalid array index "${token}" in "${pointer}"`);
  const idx = Number(token);
  if (idx > arr.length || (!forInsert && idx === arr.length)) {
    throw new PatchApplyError(`array index ${idx} out of bounds in "${pointer}"`);
  }
  return idx;
}

/** The container holding the last token of the pointer, which must exist. */
function parentOf(doc: unknown, tokens: string[], pointer: string): unknown {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false, pointer)];
    else if (isMap(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw new PatchApplyError(`path "${pointer}" does not exist (missing "${t}")`);
  }
  return cur;
}

function getAt(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const parent = parentOf(doc, tokens, pointer);
  const last = tokens.at(-1)!;
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false, pointer)];
  if (isMap(parent) && Object.hasOwn(parent, last)) return parent[last];
  throw new PatchApplyError(`path "${pointer}" does not exist`);
}

function add(doc: unknown, pointer: string, value: unknown): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens, pointer);
  const last = tokens.at(-1)!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true, pointer), 0, value);
  else if (isMap(parent)) parent[last] = value;
  else throw new PatchApplyError(`cannot add at "${pointer}": parent is not a container`);
  return doc;
}

function remove(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new PatchApplyError('cannot remove the whole document');
  const parent = parentOf(doc, tokens, pointer);
  const last = tokens.at(-1)!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false, pointer), 1);
  else if (isMap(parent) && Object.hasOwn(parent, last)) delete parent[last];
  else throw new PatchApplyError(`cannot remove "${pointer}": it does not exist`);
  return doc;
}

function parseOperations(patch: unknown): Operation[] {
  if (!Array.isArray(patch)) throw new MalformedPatchError('a JSON patch must be an array of operations');
  return patch.map((op, i) => {
    if (!isMap(op) || typeof op.op !== 'string' || typeof op.path !== 'string') {
      throw new MalformedPatchError(`operation ${i} needs string "op" and "path"`);
    }
    if (['add', 'replace', 'test'].includes(op.op) && !Object.hasOwn(op, 'value')) {
      throw new MalformedPatchError(`operation ${i} (${op.op} ${op.path}) needs a "value"`);
    }
    if (['move', 'copy'].includes(op.op) && typeof op.from !== 'string') {
      throw new MalformedPatchError(`operation ${i} (${op.op} ${op.path}) needs a "from"`);
    }
    return op as unknown as Operation;
  });
}

export function applyJsonPatch(target: unknown, patch: unknown): unknown {
  const ops = parseOperations(patch);
  let doc = clone(target);
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        doc = add(doc, op.path, clone(op.value));
        break;
      case 'remove':
        doc = remove(doc, op.path);
        break;
      case 'replace':
        getAt(doc, op.path);
        doc = op.path === '' ? clone(op.value) : add(remove(doc, op.path), op.path, clone(op.value));
        break;
      case 'move': {
        const v = getAt(doc, op.from!);
        doc = add(remove(doc, op.from!), op.path, v);
        break;
      }
      case 'copy':
        doc = add(doc, op.path, clone(getAt(doc, op.from!)));
        break;
      case 'test':
        if (!deepEqual(getAt(doc, op.path), op.value)) {
          throw new PatchApplyError(`test operation failed: "${op.path}" is ${JSON.stringify(getAt(doc, op.path))}, not ${JSON.stringify(op.value)}`);
        }
        break;
      default:
        throw new MalformedPatchError(`unknown JSON patch operation "${op.op}"`);
    }
  }
  return doc;
}
