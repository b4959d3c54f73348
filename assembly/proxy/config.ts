// Proxy settings the host may change at run time (sip_cfg_set / sip_cfg_add), and the domains this
// server is responsible for (RFC 3261 §16.4/§16.5: requests for them go to the registrar's bindings).

import { MAX_DOMAINS_CFG } from "../config";
import { Ch } from "../util/chars";
import { eqBytesI } from "../wire/scan";
import { UriRepr, parseUri } from "../wire/uri";
import { tableAlloc } from "../util/alloc";

export class ProxyConfig {
  recordRoute: bool = true;
  /** OPTIONS to the server itself answered before authentication (health checks, keepalives). */
  optionsBeforeAuth: bool = true;
  /** Topology hiding toward peers that are not trusted (proxy/topology.ts). */
  hideTopology: bool = false;
  /** Retry-After seconds on a 503 for a full table or for overload. */
  retryAfter: u32 = 5;
  /** Local overload control: the share (per mille) of new out-of-dialog requests refused with 503,
   * set by the host from its own load (RFC 6357 §5: the core cannot see its CPU). */
  shed: u32 = 0;
  /** The host chooses the transport of a request to a name without port or transport (proxy/park.ts):
   * set by a host whose resolver answers sip_poll_resolve (CfgKey NameTransport). */
  nameTransport: bool = false;
  /** Outbound proxy: requests for other domains are sent to this URI's host (0 length = none). */
  readonly outbound: usize = tableAlloc(256);
  outboundLen: u32 = 0;
  readonly outboundUri: UriRepr = new UriRepr();
}

export const proxyConfig = new ProxyConfig();

export function setOutbound(p: usize, len: u32): bool {
  if (len == 0) { proxyConfig.outboundLen = 0; return true; }
  if (len > 256) return false;
  memory.copy(proxyConfig.outbound, p, len);
  if (!parseUri(proxyConfig.outbound, proxyConfig.outbound + len, proxyConfig.outboundUri)) return false;
  proxyConfig.outboundLen = len;
  return true;
}

const MAX_DOMAINS: u32 = <u32>MAX_DOMAINS_CFG;
const DOMAIN_CAP: u32 = 64;
const domains: usize = memory.data(MAX_DOMAINS * DOMAIN_CAP);
const domainLens: usize = memory.data(MAX_DOMAINS);
let domainCount: u32 = 0;

export function domainsReset(): void {
  domainCount = 0;
}

/** Add a domain; false when the table is full or the name is empty or too long. */
export function domainAdd(p: usize, len: u32): bool {
  if (len == 0 || len > DOMAIN_CAP || domainCount >= MAX_DOMAINS) return false;
  if (isLocalDomain(p, len)) return true;
  memory.copy(domains + <usize>(domainCount * DOMAIN_CAP), p, len);
  store<u8>(domainLens + <usize>domainCount, <u8>len);
  domainCount++;
  return true;
}

/** Is the host [p, p+len) one of our domains (case-insensitive; a trailing dot ignored)? */
export function isLocalDomain(p: usize, len: u32): bool {
  if (len > 0 && load<u8>(p + <usize>len - 1) == Ch.DOT) len--;
  for (let i: u32 = 0; i < domainCount; i++) {
    if (eqBytesI(domains + <usize>(i * DOMAIN_CAP), <u32>load<u8>(domainLens + <usize>i), p, len)) return true;
  }
  return false;
}
