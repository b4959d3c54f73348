// TLS for the Node host (RFC 3261 §26: sips:, transport=tls, port 5061). A TLS connection is a stream
// transport exactly like TCP (host.ts: the same connection table, framing, bounds and reuse); this file
// only reads the configured PEM files once, and makes the server and the outgoing sockets.
//
//   tls.certificate, tls.key   what our listeners (and our outgoing connections) present
//   tls.ca                     what peers' certificates are verified against (clients with
//                              tls.verifyClient, servers with tls.verifyServer; system CAs when absent)
//
// A file that cannot be read or is not valid PEM is a ConfigError naming the key and the file, raised
// before anything is bound. A failed handshake is the peer's problem: host.ts logs it (warn, with the
// peer and the reason) and closes that connection only.
import tls from "node:tls";
import { readFileSync } from "node:fs";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { ConfigError, type TlsConfig } from "./config.js";

export interface TlsContext {
  readonly server: tls.TlsOptions;
  readonly client: tls.ConnectionOptions;
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
  return {
    // verifyClient: the certificate is asked for and checked by tlsServer (so that a refusal is logged
    // with its peer and reason: node:tls would close such a connection without a word)
    server: { ...own, ...(ca ? { ca } : {}), requestCert: c.verifyClient, rejectUnauthorized: false },
    client: { ...own, ...(ca ? { ca } : {}), rejectUnauthorized: c.verifyServer },
  };
}

/**
 * The TLS server of one listen address: `onSecure` per completed handshake (with tls.verifyClient, of a
 * client whose certificate verified), `onFail` per failed one (the connection is closed).
 */
export function tlsServer(ctx: TlsContext, onSecure: (s: tls.TLSSocket) => void, onFail: (addr: string, port: number, reason: string) => void): tls.Server {
  const verify = ctx.server.requestCert === true;
  const server = tls.createServer({ ...ctx.server, handshakeTimeout: 10_000 }, (s) => {
    if (verify && !s.authorized) {
      const none = Object.keys(s.getPeerCertificate() ?? {}).length === 0;
      onFail(s.remoteAddress ?? "", s.remotePort ?? 0, none ? "no client certificate" : `client certificate refused (${s.authorizationError})`);
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
 * is checked against the address we connect to (its IP in subjectAltName) unless tls.verifyServer is false.
 */
export function tlsConnect(ctx: TlsContext, addr: string, port: number): tls.TLSSocket {
  return tls.connect({ ...ctx.client, host: addr, port, noDelay: true } as tls.ConnectionOptions);
}
