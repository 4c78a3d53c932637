/**
 * Signs validator challenges (e.g. proof-of-work puzzles) as short JWTs with the registration
 * key ring, so any keyvend instance sharing the store can check a challenge another issued,
 * and a client cannot forge or extend one.
 */
import { jwtVerify, SignJWT } from 'jose';
import type { KeyRing } from '../tokens/key-ring.js';
import type { ChallengeSigner } from '../validators/challenge-signer.js';

const TYP = 'kv-challenge+jwt';

export function createJwtChallengeSigner(
  keyRing: KeyRing,
  options: { issuer: string; audience: string; clock?: () => Date },
): ChallengeSigner {
  const clock = options.clock ?? (() => new Date());
  const audience = `${options.audience}:challenge`;
  return {
    async sign(payload, ttlSeconds) {
      const key = keyRing.current();
      const now = Math.floor(clock().getTime() / 1000);
      return new SignJWT(payload)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: TYP })
        .setIssuer(options.issuer)
        .setAudience(audience)
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(key.privateKey);
    },
    async verify(token) {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const key =
            header.kid === undefined ? undefined : await keyRing.verificationKey(header.kid);
          if (key === undefined) throw new Error('unknown challenge key');
          return key;
        },
        {
          issuer: options.issuer,
          audience,
          typ: TYP,
          algorithms: keyRing.algorithms(),
          currentDate: clock(),
        },
      );
      return payload as Record<string, unknown>;
    },
  };
}
