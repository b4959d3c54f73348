// TLS for the Node host (RFC 3261 §26: sips:, transport=tls, port 5061). A TLS connection is a stream
// transport exactly like TCP (host.ts: the same connection table, framing, bounds and reuse); this file
// only reads the configured PEM files once, and makes the server and the outgoing sockets.
//
//   tls.certificate, tls.key   what our listeners (and our outgoing connections) present
//   tls.ca                     what peers' certificates are verified against (clients with
//                              tls.verifyClient, servers with tls.verifyServer; system CAs when absent)
//   tls.peers                  per network: a client certificate required or not (over
//                              tls.verifyClient), and the name a peer's certificate must carry
//
// A file that cannot be read or is not valid PEM is a ConfigError naming the key and the file, raised
// before anything is bound. A failed handshake is the peer's problem: host.ts logs it (warn, with the
// peer and the reason) and closes that connection only.
import tls from "node:tls";
import net from "node:net";
import { readFileSync } from "node:fs";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { ConfigError, type TlsConfig } from "./config.js";

export interface TlsContext {
  readonly server: tls.TlsOptions;
  readonly client: tls.ConnectionOptions;
  /** tls.verifyClient: a client of no tls.peers entry must present a verified certificate */
  readonly verifyClient: boolean;
  /** tls.peers in order, each with its network as a BlockList */
  readonly peers: readonly { readonly net: net.BlockList; readonly require: boolean; readonly name: string | undefined }[];
}

/** The first tls.peers entry holding `addr` (IPv4-mapped IPv6 taken as IPv4), or undefined. */
function peerOf(ctx: TlsContext, addr: string): TlsContext["peers"][number] | undefined {
  const a = addr.startsWith("::ffff:") && net.isIPv4(addr.slice(7)) ? addr.slice(7) : addr;
  const type = net.isIPv6(a) ? "ipv6" : "ipv4";
  return ctx.peers.find((p) => p.net.check(a, type));
}

function readPem(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ConfigError(key, `cannot read ${JSON.stringify(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The certificates of a PEM file (at least one), or a ConfigError naming the key and the file. */
function checkCerts(key: string, file: string, pem: Buffer): void {
  const blocks = pem.toString("latin1").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) throw new ConfigError(key, `${JSON.stringify(file)} holds no PEM certificate`);
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch (e) {
      throw new ConfigError(key, `${JSON.stringify(file)}: invalid PEM certificate (${(e as Error).message})`);
    }
  }
}

/**
 * Reads and checks the tls.* files. Without a certificate (no tls listen address), outgoing TLS presents
 * none and verifies servers against tls.ca or the system's CAs.
 */
export function loadTls(c: TlsConfig): TlsContext {
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  let ca: Buffer | undefined;
  if (c.certificate !== undefined) {
    cert = readPem("tls.certificate", c.certificate);
    checkCerts("tls.certificate", c.certificate, cert);
  }
  if (c.key !== undefined) {
    key = readPem("tls.key", c.key);
    try {
      createPrivateKey(key);
    } catch (e) {
      throw new ConfigError("tls.key", `${JSON.stringify(c.key)}: invalid PEM private key (${(e as Error).message})`);
    }
  }
  if (c.ca !== undefined) {
    ca = readPem("tls.ca", c.ca);
    checkCerts("tls.ca", c.ca, ca);
  }
  if (cert && key) {
    try {
      tls.createSecureContext({ cert, key });
    } catch (e) {
      throw new ConfigError("tls.key", `${JSON.stringify(c.key)} does not go with tls.certificate ${JSON.stringify(c.certificate)} (${(e as Error).message})`);
    }
  }
  const own = cert && key ? { cert, key } : {};
  const peers = c.peers.map((p) => {
    const list = new net.BlockList();
    const [addr, bits] = p.cidr.split("/");
    const type = net.isIPv6(addr) ? "ipv6" : "ipv4";
    list.addSubnet(addr, bits !== undefined ? Number(bits) : type === "ipv6" ? 128 : 32, type);
    return { net: list, require: p.require, name: p.name };
  });
  return {
    // a certificate is asked of every client when any may need one (node:tls asks per server), and
    // checked by tlsServer per client (so that a refusal is logged with its peer and reason: node:tls
    // would close such a connection without a word)
    server: { ...own, ...(ca ? { ca } : {}), requestCert: c.verifyClient || peers.some((p) => p.require), rejectUnauthorized: false },
    client: { ...own, ...(ca ? { ca } : {}), rejectUnauthorized: c.verifyServer },
    verifyClient: c.verifyClient,
    peers,
  };
}

/**
 * Why client `s` is refused, or undefined: where a certificate is required (the first tls.peers entry
 * holding its address says so, else tls.verifyClient), one that verifies against tls.ca, carrying the
 * entry's name when it has one.
 */
export function refusal(ctx: TlsContext, s: tls.TLSSocket): string | undefined {
  const p = peerOf(ctx, s.remoteAddress ?? "");
  if (!(p ? p.require : ctx.verifyClient)) return undefined;
  const cert = s.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return "no client certificate";
  if (!s.authorized) return `client certificate refused (${s.authorizationError})`;
  if (p?.name !== undefined) {
    const e = tls.checkServerIdentity(p.name, cert);
    if (e) return `client certificate refused (not ${p.name}: ${e.message})`;
  }
  return undefined;
}

/**
 * The TLS server of one listen address: `onSecure` per completed handshake (of a client whose
 * certificate verified, where one is required: tls.peers, tls.verifyClient), `onFail` per failed one
 * (the connection is closed).
 */
export function tlsServer(ctx: TlsContext, onSecure: (s: tls.TLSSocket) => void, onFail: (addr: string, port: number, reason: string) => void): tls.Server {
  const server = tls.createServer({ ...ctx.server, handshakeTimeout: 10_000 }, (s) => {
    const why = refusal(ctx, s);
    if (why !== undefined) {
      onFail(s.remoteAddress ?? "", s.remotePort ?? 0, why);
      s.destroy();
      return;
    }
    onSecure(s);
  });
  server.on("tlsClientError", (err, s) => {
    onFail(s.remoteAddress ?? "", s.remotePort ?? 0, reasonOf(err));
    s.destroy();
  });
  return server;
}

/** OpenSSL's reason ("unsupported protocol"), or the message. */
export function reasonOf(e: Error): string {
  return (e as Error & { reason?: string }).reason ?? e.message;
}

/**
 * An outgoing TLS connection (writes are queued until the handshake completes). The server's certificate
 * is checked against the name of the first tls.peers entry holding the address (which is also sent as
 * SNI), else against `resolved`, the name the address was resolved from (a trunk or a Request-URI host
 * by name, RFC 5922 §4.1; also sent as SNI), else against the address itself (its IP in
 * subjectAltName), unless tls.verifyServer is false.
 */
export function tlsConnect(ctx: TlsContext, addr: string, port: number, resolved?: string): tls.TLSSocket {
  const name = peerOf(ctx, addr)?.name ?? resolved;
  return tls.connect({ ...ctx.client, host: addr, port, noDelay: true, ...(name !== undefined ? { servername: name } : {}) } as tls.ConnectionOptions);
}
