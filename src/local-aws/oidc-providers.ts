/**
 * The OpenID Connect identity providers an account trusts for `AssumeRoleWithWebIdentity`,
 * registered through the control surface (IAM's `CreateOpenIDConnectProvider`).
 */
import { AwsError } from './aws-error.js';

export interface OidcProvider {
  /** `arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH`. */
  arn: string;
  /** The issuer URL as registered, e.g. `http://127.0.0.1:4000/oidc`. */
  url: string;
  /** The URL without its scheme: what trust policies and `Provider` name. */
  hostPath: string;
  clientIds: string[];
}

/** Registered providers of one account. */
export class OidcProviders {
  readonly #accountId: string;
  readonly #byHostPath = new Map<string, OidcProvider>();

  constructor(accountId: string) {
    this.#accountId = accountId;
  }

  create(url: string, clientIds: string[]): OidcProvider {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new AwsError('InvalidInput', 400, `Invalid provider URL '${url}'.`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new AwsError('InvalidInput', 400, 'The provider URL must use https (or http locally).');
    }
    const hostPath = (parsed.host + parsed.pathname).replace(/\/+$/, '');
    if (this.#byHostPath.has(hostPath)) {
      throw new AwsError('EntityAlreadyExists', 409, `Provider with url ${url} already exists.`);
    }
    const provider: OidcProvider = {
      arn: `arn:aws:iam::${this.#accountId}:oidc-provider/${hostPath}`,
      url: url.replace(/\/+$/, ''),
      hostPath,
      clientIds: [...clientIds],
    };
    this.#byHostPath.set(hostPath, provider);
    return provider;
  }

  byArn(arn: string): OidcProvider | undefined {
    for (const p of this.#byHostPath.values()) if (p.arn === arn) return p;
    return undefined;
  }

  /** The provider whose URL is the token's `iss` (scheme ignored, as STS does). */
  byIssuer(issuer: string): OidcProvider | undefined {
    const hostPath = issuer.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    return this.#byHostPath.get(hostPath);
  }

  list(): OidcProvider[] {
    return [...this.#byHostPath.values()];
  }
}
