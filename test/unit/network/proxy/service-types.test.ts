import { describe, expect, it } from 'vitest';
import { serviceKeyOf, sliceServiceKey } from '../../../../agent/network/proxy/service-types.js';

describe('service-types keys', () => {
  it('names a Service namespace/name, default namespace "default"', () => {
    expect(serviceKeyOf({ metadata: { name: 'web', namespace: 'shop' } })).toBe('shop/web');
    expect(serviceKeyOf({ metadata: { name: 'web' } })).toBe('default/web');
    // Unchecked manifest input never throws.
    expect(serviceKeyOf({} as never)).toBe('default/');
  });

  it('finds the Service of a slice from its kubernetes.io/service-name label', () => {
    expect(sliceServiceKey({ metadata: { name: 'web-abc12', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } } })).toBe('shop/web');
    expect(sliceServiceKey({ metadata: { name: 'web-abc12' } })).toBeUndefined();
  });
});
