import { describe, expect, it } from 'vitest';
import { isKeyvendError } from '../../src/errors.js';
import type { IssueRequest } from '../../src/issuers/issuer.js';
import { buildSessionTags, presentTransitiveKeys } from '../../src/issuers/session-tags.js';

function request(over: Partial<IssueRequest> = {}, attributes: Record<string, string> = {}) {
  return {
    profileName: 'mobile',
    profile: {} as IssueRequest['profile'],
    device: {
      id: 'd-abc',
      profile: 'mobile',
      status: 'active',
      publicKey: null,
      keyThumbprint: null,
      externalId: null,
      userId: null,
      attributes,
      createdAt: new Date(0),
      lastSeenAt: null,
      disabledAt: null,
      version: 1,
    },
    principalName: 'kv-d-abc',
    policy: undefined,
    templateName: 't.json',
    policyArns: [],
    durationSeconds: 900,
    tags: [],
    ...over,
  } satisfies IssueRequest;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isKeyvendError(err) ? err.code : 'not a KeyvendError';
  }
  return undefined;
}

describe('buildSessionTags', () => {
  it('starts with keyvend-device and keyvend-profile', () => {
    expect(buildSessionTags({}, request())).toEqual([
      { key: 'keyvend-device', value: 'd-abc' },
      { key: 'keyvend-profile', value: 'mobile' },
    ]);
  });

  it('fills templates from the device, its attributes and the principal', () => {
    const tags = buildSessionTags(
      { email: '${attr:email}', who: '${principal}@${profile}' },
      request({}, { email: 'ann@example.com' }),
    );
    expect(tags).toContainEqual({ key: 'email', value: 'ann@example.com' });
    expect(tags).toContainEqual({ key: 'who', value: 'kv-d-abc@mobile' });
  });

  it('leaves out a tag whose attribute or user the device lacks, and its transitive key', () => {
    const tags = buildSessionTags({ email: '${attr:email}', user: '${user}' }, request());
    expect(tags.map((t) => t.key)).toEqual(['keyvend-device', 'keyvend-profile']);
    expect(presentTransitiveKeys(['email', 'Keyvend-Device'], tags)).toEqual(['Keyvend-Device']);
  });

  it('does not read inherited properties as attributes', () => {
    const tags = buildSessionTags({ t: '${attr:constructor}' }, request());
    expect(tags).toHaveLength(2);
  });

  it('refuses an attribute value with characters STS does not allow, naming the key only', () => {
    let message = '';
    try {
      buildSessionTags({ name: '${attr:name}' }, request({}, { name: "O'Brien; DROP" }));
    } catch (err) {
      message = (err as Error).message;
      expect(isKeyvendError(err) && err.code).toBe('KEYVEND_SESSION_TAGS_INVALID');
      expect(isKeyvendError(err) && err.statusCode).toBe(403);
    }
    expect(message).toContain('name');
    expect(message).not.toContain('Brien');
  });

  it('refuses a value over 256 characters rather than cutting it', () => {
    const long = 'a'.repeat(257);
    expect(codeOf(() => buildSessionTags({ n: '${attr:n}' }, request({}, { n: long })))).toBe(
      'KEYVEND_SESSION_TAGS_INVALID',
    );
  });

  it('refuses keys equal ignoring case, aws: keys and more than 50 tags', () => {
    const dup = request({ tags: [{ key: 'KEYVEND-DEVICE', value: 'x' }] });
    expect(codeOf(() => buildSessionTags({}, dup))).toBe('KEYVEND_SESSION_TAGS_INVALID');
    const reserved = request({ tags: [{ key: 'aws:userid', value: 'x' }] });
    expect(codeOf(() => buildSessionTags({}, reserved))).toBe('KEYVEND_SESSION_TAGS_INVALID');
    const many = request({
      tags: Array.from({ length: 49 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
    });
    expect(codeOf(() => buildSessionTags({}, many))).toBe('KEYVEND_SESSION_TAGS_INVALID');
    const fifty = request({
      tags: Array.from({ length: 48 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
    });
    expect(buildSessionTags({}, fifty)).toHaveLength(50);
  });
});
