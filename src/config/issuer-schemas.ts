/**
 * Config schemas for the issuers a profile can use. One schema per issuer type; the issuer
 * lives in `src/issuers/<type>.ts`.
 */
import { type Static, Type } from 'typebox';
import { OneOfByType } from './schema-helpers.js';

export const FederationTokenIssuerSchema = Type.Object(
  { type: Type.Literal('federation-token') },
  {
    additionalProperties: false,
    description:
      "STS GetFederationToken with keyvend's own IAM-user credentials; the rendered policy is the session policy.",
  },
);

export const IssuerSchema = OneOfByType([FederationTokenIssuerSchema]);

export type FederationTokenIssuerConfig = Static<typeof FederationTokenIssuerSchema>;
export type IssuerConfig = FederationTokenIssuerConfig;
