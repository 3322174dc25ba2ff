/**
 * `iptables-save` output: the tables (`*nat`), their chains (`:KUBE-SERVICES - [0:0]`) and rules (`-A …`).
 * Pure; the format is iptables' own (iptables-save(8)): a `*table` line, `:chain policy [packets:bytes]` lines,
 * `-A chain …` rule lines, `COMMIT`; `#` lines are comments (the header and iptables-nft's warnings).
 *
 *   const tables = parseIptablesSave(stdout);
 *   tables.flatMap((t) => t.chains.map((c) => `${t.name}/${c.name}`));
 */

export interface IptablesChain {
  name: string;
  /** ACCEPT/DROP for a built-in chain, `-` for a user chain. */
  policy: string;
}

export interface IptablesTable {
  name: string;
  chains: IptablesChain[];
  /** Rule lines as printed (`-A KUBE-SERVICES -d 10.96.0.1/32 …`). */
  rules: string[];
}

export function parseIptablesSave(text: string): IptablesTable[] {
  const tables: IptablesTable[] = [];
  let cur: IptablesTable | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      cur = { name: line.slice(1).trim(), chains: [], rules: [] };
      tables.push(cur);
      continue;
    }
    if (line === 'COMMIT') {
      cur = null;
      continue;
    }
    if (!cur) throw new Error(`iptables-save: "${line}" outside a table`);
    if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      if (!name) throw new Error(`iptables-save: a chain line without a name: "${line}"`);
      cur.chains.push({ name, policy: policy ?? '-' });
    } else if (line.startsWith('-A ') || line.startsWith('-I ')) cur.rules.push(line);
    else throw new Error(`iptables-save: unexpected line in table ${cur.name}: "${line}"`);
  }
  return tables;
}
