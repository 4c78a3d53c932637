import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Account } from '../../src/local-aws/account.js';
import { packedUnits } from '../../src/local-aws/packed-size.js';
import { forEvaluation } from '../../src/local-aws/policy-document.js';
import { QueryParams } from '../../src/local-aws/query-protocol.js';
import {
  canonicalRequest,
  parseAuthorization,
  signingKey,
  verifySignature,
} from '../../src/local-aws/sigv4.js';
import { Violations } from '../../src/local-aws/validation.js';
import { xmlEscape } from '../../src/local-aws/xml.js';

describe('SigV4', () => {
  // AWS's published SigV4 test suite, case "get-vanilla".
  const vanilla = {
    method: 'GET',
    url: '/',
    headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
    body: '',
  };
  const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

  it('builds the canonical request of the AWS test suite', () => {
    expect(
      canonicalRequest(
        vanilla,
        ['host', 'x-amz-date'],
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      ),
    ).toBe(
      'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n' +
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('verifies the signature of the AWS test suite and refuses a changed one', () => {
    const auth = parseAuthorization(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
        'SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
    expect(verifySignature(vanilla, auth, '20150830T123600Z', secret)).toBe(true);
    expect(verifySignature({ ...vanilla, url: '/x' }, auth, '20150830T123600Z', secret)).toBe(
      false,
    );
    expect(signingKey(secret, '20150830', 'us-east-1', 'service')).toHaveLength(32);
  });
});

describe('QueryParams', () => {
  it('reads struct lists in index order, numerically', () => {
    const params = QueryParams.parse(
      'Tags.member.10.Key=j&Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.10.Value=10',
    );
    expect(params.structList('Tags')?.map((t) => t.get('Key'))).toEqual(['a', 'b', 'j']);
    expect(params.structList('Tags')?.[0]?.get('Value')).toBeUndefined();
  });

  it('tells an empty list (Name=) from an absent one', () => {
    expect(QueryParams.parse('Tags=').structList('Tags')).toEqual([]);
    expect(QueryParams.parse('Other=1').structList('Tags')).toBeUndefined();
    expect(QueryParams.parse('Keys.member.1=x&Keys.member.2=y').stringList('Keys')).toEqual([
      'x',
      'y',
    ]);
  });
});

describe('validation messages', () => {
  it('masks sensitive members', () => {
    const v = new Violations(['webIdentityToken']);
    v.length('webIdentityToken', 'abc', 4);
    expect(() => v.throwIfAny()).toThrow(
      "1 validation error detected: Value '***' at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4",
    );
  });
});

describe('XML escaping', () => {
  it('escapes markup and replaces characters XML cannot carry', () => {
    expect(xmlEscape('a<b>&"\'\r\u0001\uD800')).toBe("a&lt;b&gt;&amp;&quot;'&#xD;\uFFFD\uFFFD");
  });
});

describe('packed-size estimate', () => {
  it('never decreases when a policy, ARN or tag grows', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.string(),
        fc.string(),
        (policy, extra, key, value) => {
          const tags = [{ key, value }];
          const base = packedUnits(policy, [], tags);
          expect(packedUnits(policy + extra, [], tags)).toBeGreaterThanOrEqual(base);
          expect(packedUnits(policy, [extra], tags)).toBeGreaterThanOrEqual(base);
          expect(packedUnits(policy, [], [{ key: key + extra, value }])).toBeGreaterThanOrEqual(
            base,
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('policy Version rule', () => {
  it('keeps ${...} literal in documents that are not 2012-10-17', () => {
    const doc = forEvaluation({
      Statement: [
        { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/${aws:userid}/*' },
      ],
    });
    expect(JSON.stringify(doc)).toContain('arn:aws:s3:::b/${$}{aws:userid}/*');
  });
});

describe('session bookkeeping', () => {
  it('forgets sessions that expired more than a day ago, keeping recent ones', () => {
    const account = new Account('000000000000');
    const session = (issuedAt: Date, expiration: Date) =>
      account.issueSession({
        kind: 'federated-user',
        principalArn: 'arn:aws:sts::000000000000:federated-user/x',
        principalId: '000000000000:x',
        name: 'x',
        policy: undefined,
        policyDocument: undefined,
        policyArns: [],
        tags: [],
        transitiveTagKeys: [],
        sourceIdentity: undefined,
        issuedAt,
        expiration,
        parentUserName: null,
        roleName: undefined,
        chained: false,
      });
    const old = session(new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T01:00:00Z'));
    const later = new Date('2026-01-03T00:00:00Z');
    const recent = session(later, new Date('2026-01-03T01:00:00Z'));
    for (let i = 0; i < 998; i++) session(later, new Date('2026-01-03T01:00:00Z'));
    expect(account.lookupKey(old.accessKeyId)).toBeUndefined();
    expect(account.lookupKey(recent.accessKeyId)?.kind).toBe('session');
  });
});
