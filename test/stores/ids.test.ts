/** Device and user ids: shape, alphabet and uniqueness. */
import { describe, expect, it } from 'vitest';
import { isDeviceId, isUserId, newDeviceId, newUserId } from '../../src/stores/ids.js';

describe('ids', () => {
  it('makes device ids of d- and 24 lowercase base32 characters', () => {
    for (let i = 0; i < 200; i++) expect(newDeviceId()).toMatch(/^d-[a-z2-7]{24}$/);
  });

  it('makes user ids of u- and 24 lowercase base32 characters', () => {
    expect(newUserId()).toMatch(/^u-[a-z2-7]{24}$/);
    expect(isUserId(newUserId())).toBe(true);
    expect(isUserId(newDeviceId())).toBe(false);
  });

  it('never repeats an id and uses the whole alphabet', () => {
    const ids = Array.from({ length: 2000 }, newDeviceId);
    expect(new Set(ids).size).toBe(ids.length);
    const chars = new Set(ids.join('').replaceAll('d-', ''));
    expect(chars.size).toBe(32);
  });

  it('recognises only well-formed device ids', () => {
    expect(isDeviceId(newDeviceId())).toBe(true);
    for (const bad of [
      undefined,
      42,
      '',
      'd-',
      'd-ABCDEFGHIJKLMNOPQRSTUVWX',
      'd-abcdefghijklmnopqrstuvw1',
      'd-abcdefghijklmnopqrstuvwxy',
      ' d-abcdefghijklmnopqrstuvwx',
      'u-abcdefghijklmnopqrstuvwx',
      'd-abcdefghijklmnopqrstuvwx\n',
    ]) {
      expect(isDeviceId(bad)).toBe(false);
    }
  });
});
