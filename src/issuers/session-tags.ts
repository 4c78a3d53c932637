/**
 * Session tags for the issuers that pass them (assume-role as `Tags`, web-identity in the
 * `https://aws.amazon.com/tags` claim): keyvend's own `keyvend-device` and `keyvend-profile`,
 * then the profile's templates filled from the device (`${device}`, `${profile}`,
 * `${principal}`, `${user}`, `${attr:NAME}`), then the vend request's tags. A template whose
 * value the device lacks (no such attribute, no linked user) leaves its tag out, so a policy
 * using `${aws:PrincipalTag/KEY}` grants nothing rather than something wrong.
 *
 * The result is checked against STS's tag rules (`reference/sts-iam.md` §3) before any call,
 * so a device attribute that breaks them is refused with `KEYVEND_SESSION_TAGS_INVALID`
 * naming the tag key (never its value) instead of surfacing as an AWS ValidationError.
 * Values are never altered to fit: two users must not end up with the same tag.
 */
import { KeyvendError } from '../errors.js';
import type { IssueRequest } from './issuer.js';

export interface SessionTag {
  key: string;
  value: string;
}

export const DEVICE_TAG_KEY = 'keyvend-device';
export const PROFILE_TAG_KEY = 'keyvend-profile';

/** STS's limits on session tags. */
export const MAX_SESSION_TAGS = 50;
const MAX_KEY_LENGTH = 128;
const MAX_VALUE_LENGTH = 256;
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const PLACEHOLDER = /\$\{(device|profile|principal|user|attr:[A-Za-z0-9_.:-]{1,64})\}/g;

/**
 * The tags for one issuance, checked against STS's rules.
 *
 * @param templates - key → value template from the issuer config.
 * @throws `KEYVEND_SESSION_TAGS_INVALID` (403) when a tag breaks STS's rules.
 */
export function buildSessionTags(
  templates: Readonly<Record<string, string>>,
  request: IssueRequest,
): SessionTag[] {
  const tags: SessionTag[] = [
    { key: DEVICE_TAG_KEY, value: request.device.id },
    { key: PROFILE_TAG_KEY, value: request.profileName },
  ];
  for (const [key, template] of Object.entries(templates)) {
    const value = renderTemplate(template, request);
    if (value !== undefined) tags.push({ key, value });
  }
  tags.push(...request.tags);
  checkSessionTags(tags);
  return tags;
}

/** The configured transitive keys whose tags are present (STS refuses keys without a tag). */
export function presentTransitiveKeys(keys: readonly string[], tags: SessionTag[]): string[] {
  const present = new Set(tags.map((t) => t.key.toLowerCase()));
  return keys.filter((k) => present.has(k.toLowerCase()));
}

/**
 * Checks tags against STS's rules: at most 50; keys 1–128 and values 0–256 characters of
 * letters, spaces, digits and `_.:/=+-@`; no `aws:` keys; no keys equal ignoring case.
 *
 * @throws `KEYVEND_SESSION_TAGS_INVALID` (403), naming the key.
 */
export function checkSessionTags(tags: readonly SessionTag[]): void {
  if (tags.length > MAX_SESSION_TAGS) {
    throw invalid(`${tags.length} session tags; STS allows at most ${MAX_SESSION_TAGS}.`);
  }
  const seen = new Set<string>();
  for (const { key, value } of tags) {
    const keyLength = [...key].length;
    if (keyLength < 1 || keyLength > MAX_KEY_LENGTH || !TAG_TEXT.test(key)) {
      throw invalid(`A session tag key is empty, too long or has characters STS does not allow.`);
    }
    if (key.toLowerCase().startsWith('aws:')) {
      throw invalid(`Session tag ${key}: keys starting with aws: are reserved.`);
    }
    const folded = key.toLowerCase();
    if (seen.has(folded)) {
      throw invalid(`Session tag ${key} appears twice (keys are case-insensitive).`);
    }
    seen.add(folded);
    if ([...value].length > MAX_VALUE_LENGTH) {
      throw invalid(`Session tag ${key}: the value is longer than ${MAX_VALUE_LENGTH} characters.`);
    }
    if (!TAG_TEXT.test(value)) {
      throw invalid(`Session tag ${key}: the value has characters STS does not allow.`);
    }
  }
}

/** Fills a template; undefined when a value it needs is missing. */
function renderTemplate(template: string, request: IssueRequest): string | undefined {
  let missing = false;
  const value = template.replace(PLACEHOLDER, (_match, name: string) => {
    const part = placeholderValue(name, request);
    if (part === undefined) missing = true;
    return part ?? '';
  });
  return missing ? undefined : value;
}

function placeholderValue(name: string, request: IssueRequest): string | undefined {
  switch (name) {
    case 'device':
      return request.device.id;
    case 'profile':
      return request.profileName;
    case 'principal':
      return request.principalName;
    case 'user':
      return request.device.userId ?? undefined;
    default: {
      const attr = name.slice('attr:'.length);
      return Object.hasOwn(request.device.attributes, attr)
        ? request.device.attributes[attr]
        : undefined;
    }
  }
}

function invalid(message: string): KeyvendError {
  return new KeyvendError('KEYVEND_SESSION_TAGS_INVALID', message);
}
