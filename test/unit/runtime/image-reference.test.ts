import { describe, expect, it } from 'vitest';
import { InvalidImageNameError } from '../../../agent/runtime/errors.js';
import { normalizeImageReference, parseImageReference } from '../../../agent/runtime/image-reference.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('parseImageReference', () => {
  it.each([
    ['busybox', { repository: 'busybox' }],
    ['busybox:1.36', { repository: 'busybox', tag: '1.36' }],
    ['library/busybox:latest', { repository: 'library/busybox', tag: 'latest' }],
    ['nodelet/pause:0.1.0', { repository: 'nodelet/pause', tag: '0.1.0' }],
    ['docker.io/library/nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['127.0.0.1:5999/none:1', { registry: '127.0.0.1:5999', repository: 'none', tag: '1' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['localhost:5000/a/b/c:v1_2-3.4', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'v1_2-3.4' }],
    ['registry.k8s.io/pause:3.9', { registry: 'registry.k8s.io', repository: 'pause', tag: '3.9' }],
    [`busybox@${DIGEST}`, { repository: 'busybox', digest: DIGEST }],
    [`busybox:1.36@${DIGEST}`, { repository: 'busybox', tag: '1.36', digest: DIGEST }],
    ['my_repo/with__double-dash--sep.s', { repository: 'my_repo/with__double-dash--sep.s' }],
    ['[::1]:5000/img:t', { registry: '[::1]:5000', repository: 'img', tag: 't' }],
  ])('parses %s', (ref, expected) => {
    expect(parseImageReference(ref)).toEqual(expected);
  });

  it.each([
    ['', 'empty'],
    ['Busybox', 'lowercase'],
    ['nodelet/Pause:1', 'lowercase'],
    ['busy box', 'white space'],
    [' busybox', 'white space'],
    ['busybox:', 'tag'],
    ['busybox:-bad', 'tag'],
    [`busybox:${'a'.repeat(129)}`, 'tag'],
    ['busybox@sha256:abc', 'digest'],
    [`busybox@md5:${'a'.repeat(32)}`, 'digest'],
    [`busybox@sha256:${'A'.repeat(64)}`, 'digest'],
    ['-busybox', 'path component'],
    ['a//b', 'path component'],
    ['busybox/', 'path component'],
    ['bad_host_/x', 'path component'],
    ['exa_mple.com/x', 'registry'],
    [':tag', 'empty'],
    [`a/${'b'.repeat(300)}`, 'longer than 255'],
  ])('rejects %j (%s) with InvalidImageNameError naming it', (ref, why) => {
    let caught: unknown;
    try {
      parseImageReference(ref);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidImageNameError);
    expect((caught as Error).message).toContain(`"${ref}"`);
    expect((caught as Error).message).toContain(why);
  });
});

describe('normalizeImageReference', () => {
  it('adds :latest only when there is neither tag nor digest', () => {
    expect(normalizeImageReference('busybox')).toBe('busybox:latest');
    expect(normalizeImageReference('127.0.0.1:5999/none')).toBe('127.0.0.1:5999/none:latest');
    expect(normalizeImageReference('busybox:1.36')).toBe('busybox:1.36');
    expect(normalizeImageReference(`busybox@${DIGEST}`)).toBe(`busybox@${DIGEST}`);
  });

  it('keeps the name as Docker keeps it locally (no docker.io/library prefix added)', () => {
    expect(normalizeImageReference('nodelet/pause')).toBe('nodelet/pause:latest');
    expect(normalizeImageReference('docker.io/library/nginx')).toBe('docker.io/library/nginx:latest');
  });

  it('throws on an invalid reference', () => {
    expect(() => normalizeImageReference('UPPER')).toThrow(InvalidImageNameError);
  });
});
