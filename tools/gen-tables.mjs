// Generates assembly/wire/tables.ts: the name tables of the wire layer as packed ASCII data (one data
// segment each), instead of dozens of UTF-16 string literals and switch ladders: smaller code and data
// on the micro board. Run: node tools/gen-tables.mjs > assembly/wire/tables.ts (output committed).

// Header names in Hdr id order (assembly/wire/hdr.ts): lower case, full form.
const HDRS = ["", "via", "from", "to", "call-id", "cseq", "max-forwards", "contact", "content-length",
  "content-type", "route", "record-route", "path", "expires", "min-expires", "require", "proxy-require",
  "supported", "unsupported", "subject", "content-encoding", "event", "allow-events", "refer-to",
  "referred-by", "session-expires", "identity", "accept-contact", "reject-contact", "request-disposition",
  "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate", "allow", "accept",
  "retry-after", "timestamp", "privacy", "p-asserted-identity"];
// Methods in Method id order (assembly/wire/method.ts), case-sensitive.
const METHODS = ["", "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
  "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"];
// Reason phrases of the responses the core generates (RFC 3261 §21).
const REASONS = [[100, "Trying"], [180, "Ringing"], [200, "OK"], [400, "Bad Request"], [401, "Unauthorized"],
  [403, "Forbidden"], [404, "Not Found"], [405, "Method Not Allowed"], [407, "Proxy Authentication Required"],
  [408, "Request Timeout"], [413, "Request Entity Too Large"], [415, "Unsupported Media Type"],
  [416, "Unsupported URI Scheme"], [420, "Bad Extension"], [423, "Interval Too Brief"],
  [480, "Temporarily Unavailable"], [481, "Call/Transaction Does Not Exist"], [482, "Loop Detected"],
  [483, "Too Many Hops"], [486, "Busy Here"], [487, "Request Terminated"], [500, "Server Internal Error"],
  [501, "Not Implemented"], [503, "Service Unavailable"], [504, "Server Time-out"],
  [505, "Version Not Supported"], [513, "Message Too Large"]];

// Fixed header lines the core writes (name: text), as ASCII constants with their lengths.
const LINES = {
  OPTIONS_LINES: "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, SUBSCRIBE, NOTIFY, PUBLISH, INFO, REFER, MESSAGE, UPDATE\r\nAccept: application/sdp\r\nSupported: path\r\n",
};

// Fixed texts the writers emit, packed in one blob; each constant is (offset << 8) | length, for
// Writer.text().
const TEXTS = {
  T_COLON_SP: ": ",
  T_COMMA_SP: ", ",
  T_VIA: "Via: ",
  T_SIP20_SLASH: "SIP/2.0/",
  T_CL0: "Content-Length: 0",
  T_CONTACT: "Contact: ",
  T_TRANSPORT: ";transport=",
  T_BRANCH: ";branch=",
  T_SP_SIP20: " SIP/2.0",
  T_UNSUPPORTED: "Unsupported: ",
  T_TO: "To: ",
  T_SUPPORTED_PATH: "Supported: path\r\n",
  T_SIP20_SP: "SIP/2.0 ",
  T_ROUTE: "Route: ",
  T_RETRY_AFTER: "Retry-After: ",
  T_RECORD_ROUTE: "Record-Route: ",
  T_PATH: "Path: ",
  T_MF70: "Max-Forwards: 70",
  T_MF: "Max-Forwards: ",
  T_CL: "Content-Length: ",
  T_CONTACT_LT: "Contact: <",
  T_CSEQ: "CSeq: ",
  T_GT_EXPIRES: ">;expires=",
  T_SIP_LT: "<sip:",
  T_TAG: ";tag=",
  T_RECEIVED: ";received=",
  T_Q: ";q=",
  T_LR_GT: ";lr>",
  T_STALE: ", stale=true",
  // texts of the proxy, the registrar and the authenticator
  T_MIN_EXPIRES: "Min-Expires: ",
  T_PROGRESS: "Progress",
  T_OK: "OK",
  T_ERROR: "Error",
  T_ACK: "ACK",
  T_CANCEL: "CANCEL",
  T_COOKIE_SL: "z9hG4bKsL",
  T_COOKIE_SS: "z9hG4bKsS",
  T_FT: "ft",
  T_LR: ";lr",
  T_DLG_EQ: ";dlg=",
  T_TOKEN_C: "<sip:tC",
  T_TOKEN_E: "<sip:tE",
  T_ANON_FROM: "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>",
  T_PROXY_AUTHN: "Proxy-Authenticate: Digest realm=\"",
  T_WWW_AUTHN: "WWW-Authenticate: Digest realm=\"",
  T_NONCE_EQ: "\", nonce=\"",
  T_ALG_SHA256: "\", algorithm=SHA-256, qop=\"auth\"",
  T_ALG_MD5: "\", algorithm=MD5, qop=\"auth\"",
  T_UDP: "UDP",
  T_TCP: "TCP",
  T_TLS: "TLS",
  T_SCTP: "SCTP",
  T_WS: "WS",
  T_WSS: "WSS",
  // event texts (rule names of policy-refusal, causes of call-end)
  T_R_ACL: "acl",
  T_R_METHOD: "method",
  T_R_REQUEST_URI: "request-uri",
  T_R_BODY_PATTERN: "body-pattern",
  T_R_BODY: "body",
  T_R_IN_DIALOG: "in-dialog",
  T_R_RELAY: "relay",
  T_R_STRANGER: "stranger",
  T_R_FOREIGN_AOR: "foreign-aor",
  T_BYE_CALLER: "bye-caller",
  T_BYE_CALLEE: "bye-callee",
  T_MEDIA_IDLE: "media-idle",
  // keywords the parsers compare against (lower case; eqText ignores ASCII case)
  T_K_SIP: "sip",
  T_K_SIPS: "sips",
  T_K_TEL: "tel",
  T_K_SIP_SLASH: "sip/",
  T_K_V20: "2.0",
  T_K_TRANSPORT: "transport",
  T_K_MADDR: "maddr",
  T_K_METHOD: "method",
  T_K_USER: "user",
  T_K_LR: "lr",
  T_K_DLG: "dlg",
  T_K_TTL: "ttl",
  T_K_UDP: "udp",
  T_K_TCP: "tcp",
  T_K_TLS: "tls",
  T_K_SCTP: "sctp",
  T_K_WS: "ws",
  T_K_WSS: "wss",
  T_K_BRANCH: "branch",
  T_K_RECEIVED: "received",
  T_K_RPORT: "rport",
  T_K_TAG: "tag",
  T_K_Q: "q",
  T_K_EXPIRES: "expires",
  T_K_PATH: "path",
  T_K_PASSWORD: "password",
  T_K_HA1: "ha1",
  T_K_HA1SHA256: "ha1sha256",
  T_K_DIGEST: "digest",
  T_K_NC: "nc",
  T_K_URI: "uri",
  T_K_QOP: "qop",
  T_K_REALM: "realm",
  T_K_NONCE: "nonce",
  T_K_CNONCE: "cnonce",
  T_K_OPAQUE: "opaque",
  T_K_USERNAME: "username",
  T_K_RESPONSE: "response",
  T_K_ALGORITHM: "algorithm",
  T_K_SHA256: "sha-256",
  T_K_MD5: "md5",
  T_K_AUTH: "auth",
  T_K_STALE: "stale",
  T_K_IDENTITY: "identity",
  T_K_ID: "id",
  T_K_HEADER: "header",
  T_K_COOKIE: "z9hG4bK",
};

const bytes = (s) => [...Buffer.from(s, "latin1")];
const lenPrefixed = (list) => list.flatMap((s) => [s.length, ...bytes(s)]);
const fmt = (arr) => {
  const rows = [];
  for (let i = 0; i < arr.length; i += 16) rows.push("  " + arr.slice(i, i + 16).join(", ") + ",");
  return rows.join("\n");
};
const reasons = REASONS.flatMap(([code, text]) => [code & 0xff, code >> 8, text.length, ...bytes(text)]);

process.stdout.write(`// GENERATED by tools/gen-tables.mjs: do not edit by hand, edit the generator and rerun it.
//
// Name tables of the wire layer as packed ASCII: each entry is a length byte then the name.
//   HDR_NAMES   ${HDRS.length} header names in Hdr id order (hdr.ts), lower case   (${lenPrefixed(HDRS).length} bytes)
//   METHOD_NAMES ${METHODS.length} method tokens in Method id order (method.ts)   (${lenPrefixed(METHODS).length} bytes)
//   REASONS     ${REASONS.length} entries: u16 status (little-endian), length, phrase   (${reasons.length} bytes)

export const HDR_COUNT: u32 = ${HDRS.length};
export const HDR_NAMES: usize = memory.data<u8>([
${fmt(lenPrefixed(HDRS))}
]);

export const METHOD_COUNT: u32 = ${METHODS.length};
export const METHOD_NAMES: usize = memory.data<u8>([
${fmt(lenPrefixed(METHODS))}
]);

${Object.entries(LINES).map(([k, v]) => `// ${JSON.stringify(v)}
export const ${k}_LEN: u32 = ${v.length};
export const ${k}: usize = memory.data<u8>([
${fmt(bytes(v))}
]);
`).join("\n")}
// Writer texts: (offset << 8) | length into TEXT.
${(() => {
  let off = 0;
  return Object.entries(TEXTS).map(([k, v]) => {
    const line = `export const ${k}: u32 = ${(off << 8) | v.length}; // ${JSON.stringify(v)}`;
    off += v.length;
    return line;
  }).join("\n");
})()}
export const TEXT: usize = memory.data<u8>([
${fmt(Object.values(TEXTS).flatMap(bytes))}
]);

export const REASON_COUNT: u32 = ${REASONS.length};
export const REASONS: usize = memory.data<u8>([
${fmt(reasons)}
]);
`);
