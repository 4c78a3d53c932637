/**
 * The packed-policy size estimate. STS packs the session policy, the managed policy ARNs and
 * the session tags into a compressed binary form with a fixed allowance and reports how much
 * of it a request uses as `PackedPolicySize` (a percentage); the algorithm is not public.
 * The local endpoint uses a deterministic estimate that is monotone by construction (adding a
 * character never lowers it): half a unit per policy character (policies compress about 2:1),
 * one unit per ARN or tag character, plus two units of framing per ARN and tag. The result is
 * a percentage of a budget that tests can change (`setPackedBudget`).
 */
import type { Tag } from './account.js';

/** Estimated units the packed form of these session inputs takes. */
export function packedUnits(policy: string | undefined, policyArns: string[], tags: Tag[]): number {
  let units = Math.ceil((policy?.length ?? 0) / 2);
  for (const arn of policyArns) units += arn.length + 2;
  for (const tag of tags) units += tag.key.length + tag.value.length + 2;
  return units;
}

/** `PackedPolicySize`: the rounded-up percentage of `budget` the inputs use. */
export function packedPercent(
  policy: string | undefined,
  policyArns: string[],
  tags: Tag[],
  budget: number,
): number {
  return Math.ceil((packedUnits(policy, policyArns, tags) * 100) / budget);
}
