import { describe, it, expect } from 'vitest';
import {
  checkMode,
  cleanPayloadPath,
  DEFAULT_FILE_MODE,
  defaultModeOf,
  keyedObjectPayload,
  mergePayload,
  PayloadError,
  toVolumeError,
  validatePayload,
  type Payload,
} from '../../../agent/volumes/payload.js';
import { VolumeError } from '../../../agent/volumes/types.js';

const text = (s: string) => Buffer.from(s, 'utf8');

function contents(payload: Payload): Record<string, { text: string; mode: string }> {
  return Object.fromEntries([...payload].map(([p, f]) => [p, { text: f.data.toString('utf8'), mode: f.mode.toString(8) }]));
}

describe('cleanPayloadPath', () => {
  it('accepts relative paths and cleans them', () => {
    expect(cleanPayloadPath('app.conf')).toBe('app.conf');
    expect(cleanPayloadPath('conf/app.conf')).toBe('conf/app.conf');
    expect(cleanPayloadPath('./conf//app.conf')).toBe('conf/app.conf');
    expect(cleanPayloadPath('conf/')).toBe('conf');
    expect(cleanPayloadPath('.hidden')).toBe('.hidden');
    expect(cleanPayloadPath('a/..b')).toBe('a/..b');
  });

  it.each([
    ['', 'must not be empty'],
    ['/etc/passwd', 'must be a relative path'],
    ['..', "must not contain '..'"],
    ['../escape', "must not contain '..'"],
    ['a/../b', "must not contain '..'"],
    ['..data', "must not start with '..'"],
    ['..2020_01_01/file', "must not start with '..'"],
    ['.', 'must name a file inside the volume'],
    ['a'.repeat(256), 'file names must be at most 255 characters'],
  ])('refuses %j (%s)', (path, why) => {
    expect(() => cleanPayloadPath(path, 'items[0].path')).toThrow(PayloadError);
    expect(() => cleanPayloadPath(path, 'items[0].path')).toThrow(`items[0].path "${path}": invalid path: ${why}`);
  });
});

describe('modes', () => {
  it('defaults to 0644 and checks the range 0..0777', () => {
    expect(DEFAULT_FILE_MODE).toBe(420);
    expect(defaultModeOf(undefined)).toBe(0o644);
    expect(defaultModeOf(0o400)).toBe(0o400);
    expect(checkMode(0, 'mode')).toBe(0);
    expect(() => checkMode(0o1777, 'secret.defaultMode')).toThrow('secret.defaultMode: must be a number between 0 and 0777 (octal)');
    expect(() => checkMode(-1, 'mode')).toThrow(PayloadError);
    expect(() => checkMode('0644', 'mode')).toThrow(PayloadError);
  });
});

describe('validatePayload', () => {
  it('cleans every path', () => {
    const clean = validatePayload(new Map([['./a//b', { data: text('x'), mode: 0o600 }]]));
    expect([...clean.keys()]).toEqual(['a/b']);
  });

  it('refuses a path that would be both a file and a directory', () => {
    const payload: Payload = new Map([
      ['a', { data: text('1'), mode: 0o644 }],
      ['a-b', { data: text('2'), mode: 0o644 }],
      ['a/b', { data: text('3'), mode: 0o644 }],
    ]);
    expect(() => validatePayload(payload)).toThrow('paths "a" and "a/b" conflict');
  });

  it('accepts siblings sharing a prefix', () => {
    const payload: Payload = new Map([
      ['a', { data: text('1'), mode: 0o644 }],
      ['ab/c', { data: text('2'), mode: 0o644 }],
    ]);
    expect(validatePayload(payload).size).toBe(2);
  });
});

describe('keyedObjectPayload', () => {
  const object = { data: { 'app.conf': text('port=80'), 'extra.txt': text('x'), 'logo.bin': Buffer.from([0, 255, 1]) } };

  it('projects every key with defaultMode when there are no items', () => {
    const payload = keyedObjectPayload({ kind: 'configmap', name: 'web', object, defaultMode: 0o640, optional: false });
    expect(contents(payload)).toEqual({
      'app.conf': { text: 'port=80', mode: '640' },
      'extra.txt': { text: 'x', mode: '640' },
      'logo.bin': { text: Buffer.from([0, 255, 1]).toString('utf8'), mode: '640' },
    });
    expect(payload.get('logo.bin')?.data).toEqual(Buffer.from([0, 255, 1]));
  });

  it('projects only the listed keys, at their paths, with their modes', () => {
    const payload = keyedObjectPayload({
      kind: 'configmap',
      name: 'web',
      object,
      defaultMode: 0o644,
      optional: false,
      items: [
        { key: 'app.conf', path: 'conf/app.conf', mode: 0o600 },
        { key: 'extra.txt', path: 'extra' },
      ],
    });
    expect(contents(payload)).toEqual({
      'conf/app.conf': { text: 'port=80', mode: '600' },
      extra: { text: 'x', mode: '644' },
    });
  });

  it('refuses a listed key the object does not have, naming the object and key', () => {
    const build = () =>
      keyedObjectPayload({
        kind: 'configmap',
        name: 'web',
        object,
        defaultMode: 0o644,
        optional: false,
        field: 'configMap',
        items: [
          { key: 'app.conf', path: 'a' },
          { key: 'missing', path: 'm' },
        ],
      });
    expect(build).toThrow('configMap.items[1].key: configmap "web" references non-existent config key: missing');
    const secret = () =>
      keyedObjectPayload({
        kind: 'secret',
        name: 'db',
        object,
        defaultMode: 0o644,
        optional: false,
        items: [{ key: 'password', path: 'p' }],
      });
    expect(secret).toThrow('secret "db" references non-existent secret key: password');
  });

  it('skips a missing listed key when the source is optional', () => {
    const payload = keyedObjectPayload({
      kind: 'secret',
      name: 'db',
      object,
      defaultMode: 0o644,
      optional: true,
      items: [
        { key: 'missing', path: 'm' },
        { key: 'extra.txt', path: 'e' },
      ],
    });
    expect([...payload.keys()]).toEqual(['e']);
  });

  it('a missing object is "not found" unless optional (then empty)', () => {
    expect(() => keyedObjectPayload({ kind: 'configmap', name: 'web', object: undefined, defaultMode: 0o644, optional: false })).toThrow(
      'configmap "web" not found',
    );
    expect(() => keyedObjectPayload({ kind: 'secret', name: 'db', object: undefined, defaultMode: 0o644, optional: false })).toThrow('secret "db" not found');
    expect(keyedObjectPayload({ kind: 'secret', name: 'db', object: undefined, defaultMode: 0o644, optional: true }).size).toBe(0);
  });

  it('refuses an item path escaping the volume and a bad item mode', () => {
    expect(() =>
      keyedObjectPayload({
        kind: 'configmap',
        name: 'web',
        object,
        defaultMode: 0o644,
        optional: false,
        field: 'configMap',
        items: [{ key: 'app.conf', path: '../../etc/cron.d/x' }],
      }),
    ).toThrow(`configMap.items[0].path "../../etc/cron.d/x": invalid path: must not contain '..'`);
    expect(() =>
      keyedObjectPayload({
        kind: 'configmap',
        name: 'web',
        object,
        defaultMode: 0o644,
        optional: false,
        field: 'configMap',
        items: [{ key: 'app.conf', path: 'a', mode: 0o4755 }],
      }),
    ).toThrow('configMap.items[0].mode: must be a number between 0 and 0777');
  });
});

describe('mergePayload', () => {
  it('lets the later source win a path', () => {
    const into: Payload = new Map([
      ['a', { data: text('first'), mode: 0o644 }],
      ['b', { data: text('b'), mode: 0o644 }],
    ]);
    mergePayload(into, new Map([['a', { data: text('second'), mode: 0o600 }]]));
    expect(contents(into)).toEqual({ a: { text: 'second', mode: '600' }, b: { text: 'b', mode: '644' } });
  });
});

describe('toVolumeError', () => {
  it('keeps a VolumeError, passes a payload message through and prefixes other failures', () => {
    const original = new VolumeError('x');
    expect(toVolumeError(original)).toBe(original);
    expect(toVolumeError(new PayloadError('configmap "a" not found'), 'ctx').message).toBe('configmap "a" not found');
    const wrapped = toVolumeError(new Error('connection refused'), 'failed to get secret "db"');
    expect(wrapped).toBeInstanceOf(VolumeError);
    expect(wrapped.message).toBe('failed to get secret "db": connection refused');
    expect(wrapped.reason).toBe('FailedMount');
  });
});
