import { describe, expect, it } from 'vitest';
import { changeFor, diffList } from '../../../agent/kube/cache-diff.js';
import { ApiError, isAlreadyExists, isConflict, isGone, isNotFound, isRetryable, ApiUnavailableError } from '../../../agent/kube/errors.js';
import { queryString, resourcePath } from '../../../agent/kube/resource-path.js';
import { objectKey } from '../../../agent/kube/types.js';
import { LineSplitter } from '../../../agent/kube/watch-decoder.js';

describe('resourcePath', () => {
  it('builds core and group paths with namespaces, names and subresources', () => {
    expect(resourcePath({ version: 'v1', resource: 'pods' })).toBe('/api/v1/pods');
    expect(resourcePath({ version: 'v1', resource: 'pods', namespace: 'kube-system', name: 'dns', subresource: 'status' })).toBe(
      '/api/v1/namespaces/kube-system/pods/dns/status',
    );
    expect(resourcePath({ group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespace: 'kube-node-lease', name: 'node-1' })).toBe(
      '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1',
    );
    expect(resourcePath({ group: '', version: 'v1', resource: 'nodes', name: 'n1' })).toBe('/api/v1/nodes/n1');
  });

  it('encodes every segment so a name cannot reach another resource', () => {
    expect(resourcePath({ version: 'v1', resource: 'pods', namespace: 'a/b', name: '../x?y=1#z' })).toBe('/api/v1/namespaces/a%2Fb/pods/..%2Fx%3Fy%3D1%23z');
  });

  it('refuses a subresource without a name', () => {
    expect(() => resourcePath({ version: 'v1', resource: 'pods', subresource: 'status' })).toThrow(/needs a name/);
  });

  it('queryString drops undefined values and encodes the rest', () => {
    expect(queryString({ fieldSelector: 'spec.nodeName=n 1', limit: 5, watch: true, continue: undefined })).toBe(
      '?fieldSelector=spec.nodeName%3Dn+1&limit=5&watch=true',
    );
    expect(queryString({ a: undefined })).toBe('');
    expect(queryString(undefined)).toBe('');
  });
});

describe('LineSplitter', () => {
  it('joins lines split across chunks and skips blank lines', () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from('{"a":'))).toEqual([]);
    expect(s.push(Buffer.from('1}\n{"b"'))).toEqual(['{"a":1}']);
    expect(s.push(Buffer.from(':2}\r\n\n{"c":3}\n{"d"'))).toEqual(['{"b":2}', '{"c":3}']);
    expect(s.end()).toEqual(['{"d"']);
  });

  it('keeps multi-byte characters whole when a chunk ends inside one', () => {
    const bytes = Buffer.from('{"name":"café ☕"}\n', 'utf8');
    const s = new LineSplitter();
    const lines: string[] = [];
    for (let i = 0; i < bytes.length; i++) lines.push(...s.push(bytes.subarray(i, i + 1)));
    lines.push(...s.end());
    expect(lines).toEqual(['{"name":"café ☕"}']);
  });
});

describe('cache diff', () => {
  const obj = (name: string, rv: string, uid = `uid-${name}`, namespace = 'ns') => ({ metadata: { name, namespace, uid, resourceVersion: rv } });

  it('keys namespaced objects ns/name and cluster-scoped ones by name', () => {
    expect(objectKey(obj('a', '1'))).toBe('ns/a');
    expect(objectKey({ metadata: { name: 'node-1' } })).toBe('node-1');
  });

  it('same resourceVersion: nothing; new version: update; new UID: delete then add', () => {
    const old = obj('a', '5');
    expect(changeFor(old, obj('a', '5'))).toEqual([]);
    expect(changeFor(old, obj('a', '6'))).toEqual([{ type: 'update', old, object: obj('a', '6') }]);
    expect(changeFor(old, obj('a', '7', 'uid-other'))).toEqual([
      { type: 'delete', old, finalStateUnknown: true },
      { type: 'add', object: obj('a', '7', 'uid-other') },
    ]);
    expect(changeFor(undefined, old)).toEqual([{ type: 'add', object: old }]);
  });

  it('a full list against the cache: deletes for vanished objects, then adds and updates in list order', () => {
    const cache = new Map([
      ['ns/a', obj('a', '1')],
      ['ns/b', obj('b', '2')],
      ['ns/c', obj('c', '3')],
    ]);
    const changes = diffList(cache, [obj('d', '9'), obj('a', '1'), obj('b', '8')]);
    expect(changes).toEqual([
      { type: 'delete', old: obj('c', '3'), finalStateUnknown: true },
      { type: 'add', object: obj('d', '9') },
      { type: 'update', old: obj('b', '2'), object: obj('b', '8') },
    ]);
  });
});

describe('error helpers', () => {
  const err = (code: number, reason?: string) =>
    new ApiError({ method: 'GET', path: '/x', code, ...(reason ? { status: { kind: 'Status', code, reason, message: 'm' } } : {}) });
  it('classify by code and reason', () => {
    expect(isNotFound(err(404))).toBe(true);
    expect(isAlreadyExists(err(409, 'AlreadyExists'))).toBe(true);
    expect(isConflict(err(409, 'AlreadyExists'))).toBe(false);
    expect(isConflict(err(409, 'Conflict'))).toBe(true);
    expect(isGone(err(410))).toBe(true);
    expect(isGone(err(500, 'Expired'))).toBe(true);
    expect(isRetryable(err(429))).toBe(true);
    expect(isRetryable(err(503))).toBe(true);
    expect(isRetryable(err(422))).toBe(false);
    expect(isRetryable(new ApiUnavailableError('GET', '/x', 'ECONNREFUSED'))).toBe(true);
  });
  it('takes the reason from the code when there is no Status', () => {
    expect(err(404).reason).toBe('NotFound');
    expect(err(503).message).toBe('GET /x: 503 ServiceUnavailable: ServiceUnavailable');
  });
});
