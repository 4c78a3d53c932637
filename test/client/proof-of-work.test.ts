import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { leadingZeroBits, solveProofOfWork } from '../../src/client/proof-of-work.js';

describe('leadingZeroBits', () => {
  it.each([
    [[0x80], 0],
    [[0x7f], 1],
    [[0x01], 7],
    [[0x00, 0x1f], 11],
    [[0x00, 0x00, 0x00, 0x00], 32],
    [[], 0],
  ])('counts %j as %i', (bytes, expected) => {
    expect(leadingZeroBits(new Uint8Array(bytes))).toBe(expected);
  });
});

describe('solveProofOfWork', () => {
  it('finds a nonce whose SHA-256 has the required leading zero bits', async () => {
    const answer = await solveProofOfWork({ challenge: 'header.payload.sig', difficulty: 10 });
    expect(answer.challenge).toBe('header.payload.sig');
    expect(answer.nonce.length).toBeLessThanOrEqual(64);
    const digest = createHash('sha256').update(`header.payload.sig.${answer.nonce}`).digest();
    expect(leadingZeroBits(digest)).toBeGreaterThanOrEqual(10);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('user cancelled'));
    await expect(
      solveProofOfWork({ challenge: 'c', difficulty: 30 }, { signal: controller.signal }),
    ).rejects.toThrow('user cancelled');
  });

  it('refuses a difficulty it cannot reasonably solve', async () => {
    await expect(solveProofOfWork({ challenge: 'c', difficulty: 64 })).rejects.toThrow(RangeError);
    await expect(solveProofOfWork({ challenge: 'c', difficulty: 1.5 })).rejects.toThrow(RangeError);
  });

  it('imports nothing, so it runs outside Node', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(
      new URL('../../src/client/proof-of-work.ts', import.meta.url),
      'utf8',
    );
    expect(source).not.toMatch(/^\s*import\s/m);
  });
});
