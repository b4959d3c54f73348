// JS mirrors of the core's stable numbers (assembly/wire/errors.ts, hdr.ts, method.ts) and a reader
// that turns a probe's message view into plain objects for assertions.

export const Err = Object.freeze({
  None: 0, Empty: 1, StartLine: 2, Method: 3, RequestUri: 4, Version: 5, VersionUnsupported: 6,
  StatusCode: 7, HeaderLine: 8, TooManyHeaders: 9, TooLarge: 10, HeadersUnterminated: 11,
  ContentLength: 12, ContentLengthConflict: 13, ContentLengthTooBig: 14, ContentLengthMissing: 15,
  MissingHeader: 16, DuplicateHeader: 17, CSeq: 18, CSeqMethodMismatch: 19,
  CSeqMethodMismatchUnknown: 20, MaxForwards: 21, Via: 22, From: 23, To: 24, CallId: 25, Contact: 26,
  Route: 27, Expires: 28, UriScheme: 29, RequestUriHeaders: 30, ContentType: 31, NeedMore: 32,
  ControlChar: 33, ResponseHeaders: 34, OptionTags: 35,
});

export const Hdr = Object.freeze({
  Other: 0, Via: 1, From: 2, To: 3, CallId: 4, CSeq: 5, MaxForwards: 6, Contact: 7, ContentLength: 8,
  ContentType: 9, Route: 10, RecordRoute: 11, Path: 12, Expires: 13, MinExpires: 14, Require: 15,
  ProxyRequire: 16, Supported: 17, Unsupported: 18, Subject: 19, ContentEncoding: 20, Event: 21,
  AllowEvents: 22, ReferTo: 23, ReferredBy: 24, SessionExpires: 25, Identity: 26, AcceptContact: 27,
  RejectContact: 28, RequestDisposition: 29, Authorization: 30, ProxyAuthorization: 31,
  WwwAuthenticate: 32, ProxyAuthenticate: 33, Allow: 34, Accept: 35, RetryAfter: 36, Timestamp: 37,
  Privacy: 38, PAssertedIdentity: 39,
});

export const Method = Object.freeze({
  Unknown: 0, INVITE: 1, ACK: 2, BYE: 3, CANCEL: 4, REGISTER: 5, OPTIONS: 6, PRACK: 7, SUBSCRIBE: 8,
  NOTIFY: 9, PUBLISH: 10, INFO: 11, REFER: 12, MESSAGE: 13, UPDATE: 14,
});

export const UriScheme = Object.freeze({ None: 0, Sip: 1, Sips: 2, Tel: 3, Other: 4 });
export const HostKind = Object.freeze({ None: 0, Name: 1, IPv4: 2, IPv6: 3 });
export const Transport = Object.freeze({ None: 0, UDP: 1, TCP: 2, TLS: 3, SCTP: 4, WS: 5, WSS: 6, Other: 7 });

/**
 * Parse `bytes` (datagram unless stream) with probe P and return the verdict plus the whole view:
 * { r, error, status, isRequest, method, methodName, uri, code, reason, headers[], body, len }.
 * Each header: { ptr, len, hdr, name, value, line, first, last } (ptr/len: the value in memory).
 */
export function parse(P, bytes, { stream = false } = {}) {
  const n = P.put(bytes);
  const r = P.ex.probe_parse(n, stream ? 1 : 0);
  return readView(P, r);
}

/** Read view `slot`'s state after a parse that returned r. */
export function readView(P, r) {
  const ex = P.ex;
  const base = ex.probe_v_base();
  const s = (off, len) => P.str(base + off, len);
  const count = ex.probe_v_count();
  const headers = [];
  for (let i = 0; i < count; i++) {
    const lo = ex.probe_e_line_off(i);
    headers.push({
      ptr: base + ex.probe_e_val_off(i),
      len: ex.probe_e_val_len(i),
      hdr: ex.probe_e_hdr(i),
      name: s(lo, ex.probe_e_name_len(i)),
      value: s(ex.probe_e_val_off(i), ex.probe_e_val_len(i)),
      line: s(lo, ex.probe_e_line_end(i) - lo),
      first: (ex.probe_e_flags(i) & 1) !== 0,
      last: (ex.probe_e_flags(i) & 2) !== 0,
    });
  }
  const isRequest = ex.probe_v_is_request();
  return {
    r,
    error: ex.probe_v_error(),
    status: r < 0 ? ex.probe_status_of(r) : 0,
    isRequest: !!isRequest,
    method: ex.probe_v_method(),
    methodName: isRequest ? s(0, ex.probe_v_method_len()) : "",
    uri: isRequest ? s(ex.probe_v_uri_off(), ex.probe_v_uri_len()) : "",
    code: ex.probe_v_status(),
    reason: isRequest ? "" : s(ex.probe_v_reason_off(), ex.probe_v_reason_len()),
    headers,
    values: (h) => headers.filter((x) => x.hdr === h).map((x) => x.value),
    named: (name) => headers.filter((x) => x.name.toLowerCase() === name.toLowerCase()).map((x) => x.value),
    body: s(ex.probe_v_body_off(), ex.probe_v_body_len()),
    len: ex.probe_v_len(),
    skipped: ex.probe_v_skipped(),
    contentLength: ex.probe_v_content_length(),
    headersEnd: ex.probe_v_headers_end(),
  };
}

/** Decode a Via value in memory (probe_hdr_via); null when it does not decode. */
export function via(P, h) {
  const ex = P.ex;
  if (!ex.probe_hdr_via(h.ptr, h.len)) return null;
  return {
    transport: P.str(ex.probe_hdr_via_transport_ptr(), ex.probe_hdr_via_transport_len()),
    transportKind: ex.probe_hdr_via_transport_kind(),
    host: P.str(ex.probe_hdr_via_host_ptr(), ex.probe_hdr_via_host_len()),
    hostKind: ex.probe_hdr_via_host_kind(),
    port: ex.probe_hdr_via_port(),
    branch: ex.probe_hdr_via_has_branch() ? P.str(ex.probe_hdr_via_branch_ptr(), ex.probe_hdr_via_branch_len()) : null,
    branchRfc3261: !!ex.probe_hdr_via_branch_rfc3261(),
    received: ex.probe_hdr_via_has_received() ? P.str(ex.probe_hdr_via_received_ptr(), ex.probe_hdr_via_received_len()) : null,
    rport: ex.probe_hdr_via_rport(),
  };
}

export const NameAddrKind = Object.freeze({ FromTo: 0, Contact: 1, Route: 2 });

/** Decode a name-addr value in memory (probe_hdr_na); null when it does not decode. */
export function nameAddr(P, h, kind = NameAddrKind.FromTo) {
  const ex = P.ex;
  if (!ex.probe_hdr_na(h.ptr, h.len, kind)) return null;
  return {
    star: !!ex.probe_hdr_na_star(),
    display: ex.probe_hdr_na_has_display() ? P.str(ex.probe_hdr_na_display_ptr(), ex.probe_hdr_na_display_len()) : null,
    uriPtr: ex.probe_hdr_na_uri_ptr(),
    uriLen: ex.probe_hdr_na_uri_len(),
    uri: P.str(ex.probe_hdr_na_uri_ptr(), ex.probe_hdr_na_uri_len()),
    scheme: ex.probe_hdr_na_uri_scheme(),
    uriParams: P.str(ex.probe_hdr_na_uri_params_ptr(), ex.probe_hdr_na_uri_params_len()),
    params: P.str(ex.probe_hdr_na_params_ptr(), ex.probe_hdr_na_params_len()),
    tag: ex.probe_hdr_na_has_tag() ? P.str(ex.probe_hdr_na_tag_ptr(), ex.probe_hdr_na_tag_len()) : null,
    q: ex.probe_hdr_na_q(),
    expires: Number(ex.probe_hdr_na_expires()),
  };
}

/** Parse a URI in memory into probe slot 0 or 1; returns the decoded fields or null. */
export function uriAt(P, ptr, len, slot = 0) {
  const ex = P.ex;
  if (!ex.probe_uri_parse(ptr, len, slot)) return null;
  const span = (p, l) => (p ? P.str(p, l) : null);
  return {
    scheme: ex.probe_uri_scheme(slot),
    user: ex.probe_uri_has_user(slot) ? P.str(ex.probe_uri_user_ptr(slot), ex.probe_uri_user_len(slot)) : null,
    password: ex.probe_uri_has_password(slot) ? P.str(ex.probe_uri_password_ptr(slot), ex.probe_uri_password_len(slot)) : null,
    host: P.str(ex.probe_uri_host_ptr(slot), ex.probe_uri_host_len(slot)),
    hostKind: ex.probe_uri_host_kind(slot),
    port: ex.probe_uri_port(slot),
    params: span(ex.probe_uri_params_ptr(slot), ex.probe_uri_params_len(slot)),
    headers: span(ex.probe_uri_headers_ptr(slot), ex.probe_uri_headers_len(slot)),
    lr: !!ex.probe_uri_lr(slot),
  };
}
