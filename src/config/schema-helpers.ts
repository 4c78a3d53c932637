/**
 * Small builders shared by the config schema files. `OneOfByType` makes a union of object
 * schemas discriminated by their `type` property, so that a wrong entry gets one error naming
 * the bad key instead of one error per union member.
 */
import { type Static, type TSchema, Type } from 'typebox';

export function OneOfByType<const T extends TSchema[]>(
  members: [...T],
  options: { description?: string } = {},
) {
  const union = Type.Union(members);
  return Type.Unsafe<Static<typeof union>>({
    type: 'object',
    required: ['type'],
    discriminator: { propertyName: 'type' },
    oneOf: members,
    ...options,
  });
}

/** A duration in whole seconds. */
export function Seconds(
  options: { minimum?: number; maximum?: number; default?: number; description?: string } = {},
) {
  return Type.Integer({ minimum: 0, ...options });
}
