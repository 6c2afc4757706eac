import { describe, it, expect } from 'vitest';
import { expand, lookupIn } from '../../../agent/api/env-expansion.js';

const vars = new Map([
  ['A', 'alpha'],
  ['B', 'beta'],
  ['EMPTY', ''],
  ['REF', '$(A)'],
]);
const x = (s: string) => expand(s, lookupIn(vars));

describe('expand', () => {
  it('replaces known references', () => {
    expect(x('$(A)')).toBe('alpha');
    expect(x('pre-$(A)-$(B)-post')).toBe('pre-alpha-beta-post');
    expect(x('$(A)$(B)')).toBe('alphabeta');
    expect(x('$(EMPTY)|')).toBe('|');
  });

  it('leaves unknown references as written', () => {
    expect(x('$(UNKNOWN)')).toBe('$(UNKNOWN)');
    expect(x('a $(HOME) b')).toBe('a $(HOME) b');
    expect(x('$()')).toBe('$()');
  });

  it('treats $$ as an escaped $', () => {
    expect(x('$$')).toBe('$');
    expect(x('$$(A)')).toBe('$(A)');
    expect(x('$$$(A)')).toBe('$alpha');
    expect(x('$$$$(A)')).toBe('$$(A)');
    expect(x('cost: $$5')).toBe('cost: $5');
  });

  it('keeps an unterminated reference literal and goes on scanning', () => {
    expect(x('$(A')).toBe('$(A');
    expect(x('x$(')).toBe('x$(');
    expect(x('$(A $$ $(B')).toBe('$(A $ $(B');
    expect(x('$(A$(B)')).toBe('$(A$(B)');
  });

  it('keeps a $ that introduces nothing', () => {
    expect(x('$')).toBe('$');
    expect(x('a$')).toBe('a$');
    expect(x('$A')).toBe('$A');
    expect(x('${A}')).toBe('${A}');
    expect(x('$ (A)')).toBe('$ (A)');
  });

  it('does not expand a value twice', () => {
    expect(x('$(REF)')).toBe('$(A)');
  });

  it('returns input without references unchanged', () => {
    expect(x('')).toBe('');
    expect(x('plain text (with parens)')).toBe('plain text (with parens)');
  });
});

describe('lookupIn', () => {
  it('takes the first map that defines the name', () => {
    const lookup = lookupIn(
      new Map([['X', '1']]),
      new Map([
        ['X', '2'],
        ['Y', '3'],
      ]),
    );
    expect(lookup('X')).toBe('1');
    expect(lookup('Y')).toBe('3');
    expect(lookup('Z')).toBeUndefined();
  });
});
