/**
 * How validators issue challenges they can later trust without storing them: a proof-of-work
 * puzzle is handed out as a signed, expiring token and comes back with the answer, so any
 * keyvend instance can check it. keyvend implements this over the registration signing keys
 * (an ES256 JWT); validators only see this interface.
 */

/** Signs and verifies small challenge payloads. */
export interface ChallengeSigner {
  /**
   * Returns a compact token carrying `payload` that expires `ttlSeconds` from now. The
   * payload must be JSON-serialisable; the signer may add its own claims (`exp`, `iat`).
   */
  sign(payload: Record<string, unknown>, ttlSeconds: number): Promise<string>;
  /**
   * The payload of a token this signer issued. Throws when the token is malformed, signed by
   * another key, or expired.
   */
  verify(token: string): Promise<Record<string, unknown>>;
}
