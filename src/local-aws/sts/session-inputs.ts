/**
 * The request members every STS issuing operation shares — `Policy`, `PolicyArns`, `Tags`,
 * `DurationSeconds` — with their syntax checks (`reference/sts-iam.md` §3), the later checks
 * on their meaning (MalformedPolicyDocument, the 2,048-character plaintext rule,
 * PackedPolicyTooLarge, disabled regions), and the `<Credentials>` XML of an issued session.
 */
import type { Account, ManagedPolicy, Session, Tag } from '../account.js';
import { AwsError, malformedPolicyDocument } from '../aws-error.js';
import type { Knobs } from '../knobs.js';
import { packedPercent } from '../packed-size.js';
import { type PolicyDocument, parsePolicyDocument } from '../policy-document.js';
import type { QueryParams } from '../query-protocol.js';
import { PATTERNS, type Violations, validationError } from '../validation.js';
import { xmlElement, xmlText } from '../xml.js';

/** The session members of a request, syntax-checked. */
export interface SessionInputs {
  policy: string | undefined;
  policyArns: string[];
  /** undefined when the request sent no `Tags` (an empty `Tags=` is `[]`). */
  tags: Tag[] | undefined;
}

export const MAX_SESSION_POLICY_CHARS = 2048;

/**
 * Reads and checks `Policy`, `PolicyArns` and `Tags`, recording violations in `v`.
 * `policyMax` is the model's maximum for `Policy` (undefined where it has none).
 */
export function readSessionInputs(
  params: QueryParams,
  v: Violations,
  policyMax: number | undefined,
): SessionInputs {
  const policy = params.get('Policy');
  if (policy !== undefined) {
    v.length('policy', policy, 1, policyMax);
    if (policy.length > 0) v.pattern('policy', policy, PATTERNS.policyText);
  }

  const arnEntries = params.structList('PolicyArns') ?? [];
  const policyArns: string[] = [];
  arnEntries.forEach((entry, i) => {
    const member = `policyArns.${i + 1}.member.arn`;
    const arn = entry.get('arn');
    if (v.required(member, arn)) {
      v.length(member, arn, 20, 2048);
      policyArns.push(arn);
    }
  });
  v.listLength('policyArns', arnEntries.length, 10);

  const tagEntries = params.structList('Tags');
  let tags: Tag[] | undefined;
  if (tagEntries !== undefined) {
    tags = [];
    tagEntries.forEach((entry, i) => {
      const keyMember = `tags.${i + 1}.member.key`;
      const valueMember = `tags.${i + 1}.member.value`;
      const key = entry.get('Key');
      const value = entry.get('Value');
      if (v.required(keyMember, key)) {
        v.length(keyMember, key, 1, 128);
        if (key.length > 0) v.pattern(keyMember, key, PATTERNS.tagKey);
      }
      if (v.required(valueMember, value)) {
        v.length(valueMember, value, 0, 256);
        if (value.length > 0) v.pattern(valueMember, value, PATTERNS.tagValue);
      }
      if (key !== undefined && value !== undefined) tags?.push({ key, value });
    });
    v.listLength('tags', tagEntries.length, 50);
  }
  return { policy, policyArns, tags };
}

/**
 * Rules on tag keys beyond their syntax: no `aws:` prefix, no two keys equal ignoring case.
 * Run after the syntax check.
 */
export function checkTagKeys(tags: Tag[] | undefined): void {
  if (tags === undefined) return;
  const seen = new Set<string>();
  for (const tag of tags) {
    if (tag.key.toLowerCase().startsWith('aws:')) {
      throw validationError(
        `Tag key '${tag.key}' is invalid: tag keys must not start with 'aws:'.`,
      );
    }
    const folded = tag.key.toLowerCase();
    if (seen.has(folded)) {
      throw validationError(
        'Duplicate tag keys found. Please note that Tag keys are case insensitive.',
      );
    }
    seen.add(folded);
  }
}

/** The parsed session policies of a request. */
export interface ResolvedSessionPolicies {
  document: PolicyDocument | undefined;
  managed: ManagedPolicy[];
}

/**
 * Step 4 of §3: the inline policy must parse as a policy, each ARN must name a managed policy
 * of this account, and inline plus managed plaintext must fit in 2,048 characters.
 */
export function resolveSessionPolicies(
  account: Account,
  inputs: SessionInputs,
): ResolvedSessionPolicies {
  const document =
    inputs.policy === undefined ? undefined : parsePolicyDocument(inputs.policy, 'identity');
  const managed: ManagedPolicy[] = [];
  for (const arn of inputs.policyArns) {
    const policy = account.getPolicy(arn);
    if (policy === undefined) {
      throw malformedPolicyDocument(`The policy ${arn} does not exist or is not attachable.`);
    }
    managed.push(policy);
  }
  const plaintext =
    (inputs.policy?.length ?? 0) + managed.reduce((sum, p) => sum + p.text.length, 0);
  if (plaintext > MAX_SESSION_POLICY_CHARS) {
    throw validationError(
      `The plaintext of the inline and managed session policies together (${plaintext} ` +
        `characters) exceeds ${MAX_SESSION_POLICY_CHARS} characters.`,
    );
  }
  return { document, managed };
}

/** Steps 5–6 of §3: the packed size (returned as `PackedPolicySize`) and the region. */
export function checkPackedSizeAndRegion(
  account: Account,
  knobs: Knobs,
  inputs: SessionInputs,
  region: string,
): number {
  const percent = packedPercent(
    inputs.policy,
    inputs.policyArns,
    inputs.tags ?? [],
    knobs.packedBudget,
  );
  if (knobs.forcePackedTooLarge || percent > 100) {
    const shown = Math.max(percent, 101);
    throw new AwsError(
      'PackedPolicyTooLarge',
      400,
      `Packed policy consumes ${shown}% of allotted space, please use smaller policy.`,
    );
  }
  if (knobs.disabledRegions.has(region)) {
    throw new AwsError(
      'RegionDisabledException',
      403,
      `STS is not activated in this region for account:${account.accountId}. Your account ` +
        'administrator can activate STS in this region using the IAM Console.',
    );
  }
  return percent;
}

/** An expiry `seconds` after `now`, on a whole second (as STS reports it). */
export function expiryAfter(now: Date, seconds: number): Date {
  return new Date(Math.floor(now.getTime() / 1000) * 1000 + seconds * 1000);
}

/** `<Credentials>` of an issued session. */
export function credentialsXml(session: Session): string {
  return xmlElement(
    'Credentials',
    xmlText('AccessKeyId', session.accessKeyId) +
      xmlText('SecretAccessKey', session.secretAccessKey) +
      xmlText('SessionToken', session.sessionToken) +
      xmlText('Expiration', session.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z')),
  );
}

/** Session tags over inherited tags: a session tag wins over one with the same key (any case). */
export function mergeTags(inherited: Tag[], session: Tag[]): Tag[] {
  const keys = new Set(session.map((t) => t.key.toLowerCase()));
  return [...inherited.filter((t) => !keys.has(t.key.toLowerCase())), ...session];
}

/** `aws:RequestTag/*` and `aws:TagKeys` for a request carrying session tags. */
export function requestTagContext(tags: Tag[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { 'aws:TagKeys': tags.map((t) => t.key) };
  for (const tag of tags) out[`aws:RequestTag/${tag.key}`] = tag.value;
  return out;
}
