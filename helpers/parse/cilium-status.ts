/**
 * `cilium-dbg status` as the agent prints it (run inside the cilium-agent container), text or `-o json`.
 *
 * Facts used (shared/docs/cilium-behaviour.md):
 * - 4.1 text lines: `KubeProxyReplacement:    True   [eth0 ... (Direct Routing)]` (mode `True`/`False`) and
 *   `Routing:  Network: Tunnel [vxlan]   Host: Legacy`; the ` [<proto>]` part is printed only for Tunnel.
 * - 5.2 JSON (StatusResponse): `.routing["inter-host-routing-mode"]` Tunnel|Native, `.routing["intra-host-routing-mode"]`
 *   BPF|Legacy, `.routing["tunnel-protocol"]`, `."kube-proxy-replacement".mode` "True"|"False", `.cilium.state`
 *   Ok|Warning|Failure|Disabled.
 *
 * Pure. Anything that does not match those shapes is an error that says what was missing; no field is guessed.
 */

export type RoutingNetwork = 'Tunnel' | 'Native';
export type HostRouting = 'BPF' | 'Legacy';
export type AgentState = 'Ok' | 'Warning' | 'Failure' | 'Disabled';

export interface CiliumDbgStatus {
  kubeProxyReplacement: boolean;
  routing: {
    network: RoutingNetwork;
    /** The tunnel protocol for network Tunnel; null for Native (the text output prints none for Native). */
    tunnelProtocol: string | null;
    host: HostRouting;
  };
  /**
   * Extension of the contract shape: `.cilium.state` from the JSON output. The text output's `Cilium:` line is not
   * described in cilium-behaviour.md, so it is not read and this is null for text input.
   */
  state: AgentState | null;
}

export class CiliumStatusParseError extends Error {
  constructor(message: string) {
    super(`cilium-dbg status: ${message}`);
    this.name = 'CiliumStatusParseError';
  }
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

const AGENT_STATES: readonly AgentState[] = ['Ok', 'Warning', 'Failure', 'Disabled'];

/** Parses the text output or the `-o json` output of `cilium-dbg status`. Throws CiliumStatusParseError. */
export function parseCiliumDbgStatus(text: string): CiliumDbgStatus {
  const clean = stripAnsi(text).trim();
  if (clean === '') throw new CiliumStatusParseError('empty output');
  return clean.startsWith('{') ? parseJson(clean) : parseText(clean);
}

function parseText(text: string): CiliumDbgStatus {
  const lines = text.split(/\r?\n/);
  const kprLine = lines.find((l) => /^\s*KubeProxyReplacement:/.test(l));
  if (!kprLine) throw new CiliumStatusParseError('no "KubeProxyReplacement:" line in the text output');
  const kpr = /^\s*KubeProxyReplacement:\s+(True|False)\b/.exec(kprLine);
  if (!kpr) throw new CiliumStatusParseError(`unrecognised KubeProxyReplacement line (expected True or False): ${kprLine.trim()}`);

  const routingLine = lines.find((l) => /^\s*Routing:/.test(l));
  if (!routingLine) throw new CiliumStatusParseError('no "Routing:" line in the text output');
  const r = /^\s*Routing:\s+Network:\s+(Tunnel|Native)(?:\s+\[([A-Za-z0-9-]+)\])?\s+Host:\s+(BPF|Legacy)\s*$/.exec(routingLine);
  if (!r) {
    throw new CiliumStatusParseError(
      `unrecognised Routing line (expected "Network: <Tunnel|Native> [proto]  Host: <BPF|Legacy>"): ${routingLine.trim()}`,
    );
  }
  const network = r[1] as RoutingNetwork;
  const proto = r[2] ?? null;
  if (network === 'Tunnel' && proto === null)
    throw new CiliumStatusParseError(`Routing line says Tunnel but names no protocol: ${routingLine.trim()}`);
  if (network === 'Native' && proto !== null)
    throw new CiliumStatusParseError(`Routing line says Native but names a tunnel protocol: ${routingLine.trim()}`);
  return {
    kubeProxyReplacement: kpr[1] === 'True',
    routing: { network, tunnelProtocol: proto, host: r[3] as HostRouting },
    state: null,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(text: string): CiliumDbgStatus {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CiliumStatusParseError(`output starts like JSON but does not parse (truncated?): ${(err as Error).message}`);
  }
  if (!isRecord(doc)) throw new CiliumStatusParseError('JSON output is not an object');

  const routing = doc.routing;
  if (!isRecord(routing)) throw new CiliumStatusParseError('JSON has no "routing" object');
  const inter = routing['inter-host-routing-mode'];
  const intra = routing['intra-host-routing-mode'];
  if (inter !== 'Tunnel' && inter !== 'Native') {
    throw new CiliumStatusParseError(`routing."inter-host-routing-mode" is ${JSON.stringify(inter)}, expected "Tunnel" or "Native"`);
  }
  if (intra !== 'BPF' && intra !== 'Legacy') {
    throw new CiliumStatusParseError(`routing."intra-host-routing-mode" is ${JSON.stringify(intra)}, expected "BPF" or "Legacy"`);
  }
  let tunnelProtocol: string | null = null;
  if (inter === 'Tunnel') {
    const p = routing['tunnel-protocol'];
    if (typeof p !== 'string' || p === '')
      throw new CiliumStatusParseError('routing mode is Tunnel but routing."tunnel-protocol" is missing');
    tunnelProtocol = p;
  }

  const kpr = doc['kube-proxy-replacement'];
  if (!isRecord(kpr)) throw new CiliumStatusParseError('JSON has no "kube-proxy-replacement" object');
  if (kpr.mode !== 'True' && kpr.mode !== 'False') {
    throw new CiliumStatusParseError(`"kube-proxy-replacement".mode is ${JSON.stringify(kpr.mode)}, expected "True" or "False"`);
  }

  let state: AgentState | null = null;
  const cilium = doc.cilium;
  if (isRecord(cilium) && cilium.state !== undefined) {
    if (!AGENT_STATES.includes(cilium.state as AgentState)) {
      throw new CiliumStatusParseError(`cilium.state is ${JSON.stringify(cilium.state)}, expected one of ${AGENT_STATES.join(', ')}`);
    }
    state = cilium.state as AgentState;
  }

  return {
    kubeProxyReplacement: kpr.mode === 'True',
    routing: { network: inter, tunnelProtocol, host: intra },
    state,
  };
}
