/**
 * Schemas shared by several routes: the one error envelope and header shapes. Route-specific
 * schemas live in their route file.
 */
import { Type } from 'typebox';

export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({
          description: 'Stable code, e.g. KEYVEND_DEVICE_DISABLED (see README).',
        }),
        message: Type.String(),
      },
      { additionalProperties: true },
    ),
  },
  { $id: 'ErrorEnvelope', description: 'Every error keyvend answers with.' },
);

export const errorRef = { $ref: 'ErrorEnvelope#' } as const;

/** Response map entries for the error statuses a route can answer with. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorRef> {
  return Object.fromEntries(statuses.map((s) => [s, errorRef]));
}
