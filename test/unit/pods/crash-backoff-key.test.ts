import { describe, expect, it } from 'vitest';
import { backoffKey } from '../../../agent/pods/crash-backoff-key.js';

describe('backoffKey', () => {
  it('keys by pod UID, container name and spec hash', () => {
    expect(backoffKey('uid-1', 'web', 'abcd1234')).toBe('uid-1/web/abcd1234');
    expect(backoffKey('uid-1', 'web', 'abcd1234')).not.toBe(backoffKey('uid-1', 'web', 'ffff0000'));
  });
});
