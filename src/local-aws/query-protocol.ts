/**
 * Parsing of AWS Query protocol request bodies as SDK v3 sends them
 * (`reference/sts-iam.md` §1.2): a form-encoded body whose keys may come in any order, lists
 * flattened as `Name.member.N` (strings) or `Name.member.N.Field` (structures, e.g.
 * `Tags.member.1.Key`, `PolicyArns.member.1.arn`), and an empty list sent as `Name=`.
 */

/** The decoded parameters of one Query request. */
export class QueryParams {
  readonly #values: Map<string, string>;

  constructor(values: Map<string, string>) {
    this.#values = values;
  }

  /** Decodes a form body (`+` and `%20` both mean a space). Later duplicates win. */
  static parse(body: string): QueryParams {
    const values = new Map<string, string>();
    for (const [key, value] of new URLSearchParams(body)) values.set(key, value);
    return new QueryParams(values);
  }

  get(name: string): string | undefined {
    return this.#values.get(name);
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** Every parameter, for the request log. */
  entries(): [string, string][] {
    return [...this.#values];
  }

  /**
   * A list of strings sent as `Name.member.N`, in index order; `[]` for `Name=`; undefined
   * when the request does not mention the list.
   */
  stringList(name: string): string[] | undefined {
    const items = this.#members(name);
    if (items === undefined) return undefined;
    const out: string[] = [];
    for (const [, fields] of items) {
      const value = fields.get('');
      if (value !== undefined) out.push(value);
    }
    return out;
  }

  /**
   * A list of structures sent as `Name.member.N.Field`, in index order; each entry maps a
   * field name to its value (absent fields are absent). `[]` for `Name=`; undefined when the
   * request does not mention the list.
   */
  structList(name: string): Map<string, string>[] | undefined {
    const items = this.#members(name);
    if (items === undefined) return undefined;
    return items.map(([, fields]) => fields);
  }

  #members(name: string): [number, Map<string, string>][] | undefined {
    const prefix = `${name}.member.`;
    const byIndex = new Map<number, Map<string, string>>();
    for (const [key, value] of this.#values) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const dot = rest.indexOf('.');
      const indexText = dot === -1 ? rest : rest.slice(0, dot);
      if (!/^[1-9][0-9]{0,5}$/.test(indexText)) continue;
      const index = Number(indexText);
      const field = dot === -1 ? '' : rest.slice(dot + 1);
      let fields = byIndex.get(index);
      if (fields === undefined) {
        fields = new Map();
        byIndex.set(index, fields);
      }
      fields.set(field, value);
    }
    if (byIndex.size === 0) return this.#values.has(name) ? [] : undefined;
    return [...byIndex].sort((a, b) => a[0] - b[0]);
  }
}
