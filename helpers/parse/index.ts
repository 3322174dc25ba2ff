/**
 * Every pure parser of the harness: text from a machine in, data out, no I/O.
 * Other code and outside checks import from here; names and shapes are part of the contract.
 */
export { ParseError } from './common.ts';
export { parseArping, detectArpingFlavour, type ArpingResult, type ArpingReply, type ArpingFlavour } from './arping.ts';
export { parsePing, type PingResult } from './ping.ts';
export { parseTcpdump, type TcpdumpPacket, type InnerPacket, type Direction } from './tcpdump.ts';
export { parseIpRoute, type IpRoute } from './iproute.ts';
export { parseNeighbours, type Neighbour } from './neigh.ts';
export { parseCurlOutput, CURL_MARKER, CURL_WRITE_OUT, type CurlOutput } from './curl.ts';
export * from './l2announce.ts';
export * from './cilium-status.ts';
export { parseHttpProbeLog, PROBE_LOG_TAG, type HttpProbeLog, type HttpProbeSample } from './http-probe-loop.ts';
export {
  parseHubbleFlows,
  describeFlow,
  HUBBLE_TRACE_EVENT,
  type HubbleFlow,
  type HubbleFlows,
  type HubbleEndpoint,
  type HubbleL7,
} from './hubble.ts';
export { parseEncryptionStatus, type EncryptionStatus, type WireguardInterface } from './encryption.ts';
export { parseIpLink, type IpLink } from './iplink.ts';
export { parseWhoami, type WhoamiReply } from './whoami.ts';
export { parseIptablesSave, type IptablesTable, type IptablesChain } from './iptables-save.ts';
export {
  parseServiceListJson,
  parseServiceListText,
  parseServiceAddr,
  type ServiceEntry,
  type ServiceAddr,
  type ServiceBackend,
} from './service-list.ts';
