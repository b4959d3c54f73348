// A simulated SIP user agent over UDP for the simulator (net.mjs): RFC 3261 client and server
// transactions (§17: Timers A/B/D, E/F/K, G/H, 2xx retransmission by the UAS core until ACK, §13.3.1.4),
// a UAC that registers, calls, ACKs every 2xx (and BYEs the extra dialogs of a fork, §13.2.2.4),
// cancels and hangs up, and a UAS that rings and answers after configurable delays, answers CANCEL
// (§9.2) and BYE. Either end re-INVITEs within its dialog and answers the other's re-INVITEs: 491 while
// its own is pending (glare, §14.2; with `retry`, its own again after §14.1's wait), 481 once the dialog
// is ending, and a pending one 487 when a BYE ends the dialog (§15.1.2). Reliable provisionals (RFC 3262)
// on request: a UAC with `prack` PRACKs each new one in its early dialog (RAck: RSeq, the INVITE's CSeq);
// a UAS with `reliable` sends its 180 with Require: 100rel and an RSeq when the INVITE offers 100rel,
// retransmitted at T1 doubling until a PRACK with the right RAck (others get 481); with
// `reliableReinvite`, a re-INVITE offering 100rel gets a reliable 183 first and its final only after the
// PRACK (a 500 after 64·T1 without one), and a `prack` UAC PRACKs those of its re-INVITEs. It records what
// happened for the scenarios' invariants; it never throws on what it receives (a message it cannot match
// is counted in `stray`).

import { createHash } from "node:crypto";

const COMPACT = { v: "via", f: "from", t: "to", i: "call-id", m: "contact", l: "content-length" };

/** Splits a header value at commas outside <> and quotes. */
function splitList(v) {
  const out = [];
  let depth = 0, q = false, start = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c === '"') q = !q;
    else if (!q && c === "<") depth++;
    else if (!q && c === ">") depth--;
    else if (!q && depth === 0 && c === ",") {
      out.push(v.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(v.slice(start).trim());
  return out.filter(Boolean);
}

export function parse(text) {
  const end = text.indexOf("\r\n\r\n");
  const head = (end >= 0 ? text.slice(0, end) : text).split("\r\n");
  const first = head[0];
  const headers = [];
  for (const line of head.slice(1)) {
    const c = line.indexOf(":");
    if (c < 0) continue;
    let name = line.slice(0, c).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    headers.push([name, line.slice(c + 1).trim()]);
  }
  const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(first);
  const r = /^([A-Z]+) (\S+) SIP\/2\.0$/.exec(first);
  const get = (n) => headers.find(([k]) => k === n)?.[1];
  const all = (n) => headers.filter(([k]) => k === n).flatMap(([, v]) => splitList(v));
  const cseq = (get("cseq") ?? "").split(/\s+/);
  return {
    text, first, headers, get, all,
    status: m ? Number(m[1]) : 0,
    method: r ? r[1] : cseq[1],
    ruri: r ? r[2] : null,
    cseqNum: Number(cseq[0]),
    callId: get("call-id"),
    branch: /;branch=([^;,\s]+)/i.exec(all("via")[0] ?? "")?.[1],
    toTag: /;tag=([^;>\s]+)/i.exec(get("to") ?? "")?.[1],
    fromTag: /;tag=([^;>\s]+)/i.exec(get("from") ?? "")?.[1],
  };
}

/** host:port of a SIP URI or name-addr ("<sip:u@h:p;lr>" -> "h:p", default port 5060). */
export function hostPort(uri) {
  const u = /<([^>]*)>/.exec(uri)?.[1] ?? uri;
  const m = /^sips?:(?:[^@]*@)?([^;:?>]+)(?::(\d+))?/.exec(u);
  return m ? `${m[1]}:${m[2] ?? 5060}` : null;
}
const uriOf = (na) => /<([^>]*)>/.exec(na)?.[1] ?? na.split(";")[0];

const md5 = (s) => createHash("md5").update(s, "latin1").digest("hex");

export class Ua {
  /**
   * @param sim the simulator; addr "a.b.c.d:port"; user the user part;
   * o: { proxy "a.b.c.d:port" (outbound proxy and registrar), domain, t1, t2, t4,
   *      ring (ms before 180, null: none), answer (ms before the final, null: never), status (final, 200),
   *      answerHeaders (extra header lines of our 2xx), answerBody (its SDP, "" none),
   *      challenge ({ realm, user, password }: a provider's proxy that answers an INVITE without valid
   *      Proxy-Authorization 407, and one with wrong credentials 403) }
   */
  constructor(sim, addr, user, o = {}) {
    this.sim = sim;
    this.addr = addr;
    this.user = user;
    this.proxy = o.proxy ?? "127.0.0.1:5060";
    this.domain = o.domain ?? this.proxy.split(":")[0];
    this.t1 = o.t1 ?? 500;
    this.t2 = o.t2 ?? 4000;
    this.t4 = o.t4 ?? 5000;
    this.ring = o.ring === undefined ? 100 : o.ring;
    this.answerAfter = o.answer === undefined ? 1000 : o.answer;
    this.finalStatus = o.status ?? 200;
    this.answerHeaders = o.answerHeaders ?? [];
    this.answerBody = o.answerBody ?? "";
    this.ackBody = o.ackBody ?? null; // as UAC: the SDP answer our ACK carries when our INVITE had none
    this.challenge = o.challenge ?? null;
    this.challenged = 0; // 407s sent
    this.authorized = 0; // INVITEs whose credentials checked
    this.ct = new Map(); // client transactions by branch and CSeq method (a CANCEL shares its INVITE's branch)
    this.st = new Map(); // server transactions by branch + method
    this.calls = new Map(); // by Call-ID: what happened (for invariants)
    this.stray = [];
    this.registered = null; // final status of the last REGISTER
    this.password = o.password ?? null; // answers 401/407 with digest (MD5, qop=auth when offered)
    this.regCallId = null;
    this.regCseq = 0;
    this.challenges = 0; // 401/407 received
    this.contactParams = o.contactParams ?? ""; // URI parameters of our Contact (";transport=udp", …)
    this.prack = o.prack ?? false; // as UAC: PRACK reliable provisionals (RFC 3262 §4)
    this.reliable = o.reliable ?? false; // as UAS: ring reliably when the INVITE offers 100rel (§3)
    this.reliableReinvite = o.reliableReinvite ?? false; // as UAS of a re-INVITE offering 100rel: a reliable 183 first
    this.earlyBody = o.earlyBody ?? ""; // as UAS: SDP in the reliable 180 (an offer, when the INVITE had none)
    this.prackBody = o.prackBody ?? ""; // as UAC: SDP in the PRACK (the answer to the 180's offer)
    sim.attach(addr, this);
  }

  /** A fresh token (tags, branches, Call-IDs) from the simulator's PRNG: runs stay replayable. */
  id(prefix) {
    return `${prefix}${this.sim.rng.u32().toString(36)}${this.sim.rng.u32().toString(36)}`;
  }

  contact() {
    return `<sip:${this.user}@${this.addr}${this.contactParams}>`;
  }

  send(to, text) {
    this.sim.send(this.addr, to, text);
  }

  call(callId) {
    let c = this.calls.get(callId);
    if (!c) {
      c = { callId, role: null, finals: [], dialogs: new Map(), cancelSent: false, inviteTimeout: false,
        invites: 0, provisionals: 0, sentFinal: null, ackFor2xx: 0, ackForFinal: 0, byes: 0, cancels: 0, byeSent: null };
      this.calls.set(callId, c);
    }
    return c;
  }

  // ---- client transactions ----------------------------------------------------------------------

  /** Starts a client transaction for request text `text` (its Via branch) toward `dest`. */
  client(text, dest, onFinal, onProvisional = () => {}) {
    const msg = parse(text);
    const invite = msg.method === "INVITE";
    const t = { msg, text, dest, invite, state: "trying", onFinal, onProvisional, interval: this.t1, timer: null, timeout: null, ack: null };
    this.ct.set(`${msg.branch} ${msg.method}`, t);
    this.send(dest, text);
    const retransmit = () => {
      if (t.state !== "trying" && !(t.state === "proceeding" && !invite)) return;
      this.send(dest, text);
      t.interval = invite ? t.interval * 2 : Math.min(t.interval * 2, this.t2);
      t.timer = this.sim.after(t.interval, retransmit);
    };
    t.timer = this.sim.after(this.t1, retransmit); // Timer A / E
    t.timeout = this.sim.after(64 * this.t1, () => { // Timer B / F
      if (t.state === "trying" || t.state === "proceeding") {
        t.state = "terminated";
        this.sim.cancel(t.timer);
        onFinal(null); // timeout
      }
    });
    return t;
  }

  onResponse(msg) {
    const t = this.ct.get(`${msg.branch} ${msg.method}`);
    if (msg.method === "INVITE" && msg.status >= 200 && msg.status < 300) {
      // a 2xx ends the INVITE transaction; every 2xx (retransmitted or of another fork) goes to the TU
      const first = t && (t.state === "trying" || t.state === "proceeding");
      if (first) {
        t.state = "terminated";
        this.sim.cancel(t.timer);
        this.sim.cancel(t.timeout);
      }
      if (t?.ack2xx) this.send(t.dest, t.ack2xx); // the callee's re-INVITE: its ACK (§13.2.2.4), for each 2xx
      else this.uac2xx(msg);
      if (first && t.msg.toTag) t.onFinal(msg); // a re-INVITE's answer goes to its caller too
      return;
    }
    if (!t) {
      this.stray.push(msg.first);
      return;
    }
    if (msg.status < 200) {
      if (t.state === "trying") {
        t.state = "proceeding";
        if (t.invite) this.sim.cancel(t.timer);
        else {
          // Timer E continues at T2 in Proceeding
          this.sim.cancel(t.timer);
          const again = () => {
            if (t.state !== "proceeding") return;
            this.send(t.dest, t.text);
            t.timer = this.sim.after(this.t2, again);
          };
          t.timer = this.sim.after(this.t2, again);
        }
      }
      if (t.state === "proceeding") t.onProvisional(msg);
      return;
    }
    if (t.invite) {
      // 3xx-6xx: ACK in the transaction (same branch), again for each retransmission
      t.ack ??= this.ackFor(t.msg, msg);
      this.send(t.dest, t.ack);
      if (t.state === "completed") return;
      t.state = "completed";
      this.sim.cancel(t.timer);
      this.sim.cancel(t.timeout);
      this.sim.after(32_000, () => (t.state = "terminated")); // Timer D
      t.onFinal(msg);
      return;
    }
    if (t.state === "completed" || t.state === "terminated") return;
    t.state = "completed";
    this.sim.cancel(t.timer);
    this.sim.cancel(t.timeout);
    this.sim.after(this.t4, () => (t.state = "terminated")); // Timer K
    t.onFinal(msg);
  }

  /** The ACK of a non-2xx final response (§17.1.1.3). */
  ackFor(inv, resp) {
    const via = inv.get("via");
    return [
      `ACK ${inv.ruri} SIP/2.0`, `Via: ${via}`, `Max-Forwards: 70`, `From: ${inv.get("from")}`, `To: ${resp.get("to")}`,
      `Call-ID: ${inv.callId}`, `CSeq: ${inv.cseqNum} ACK`, ...inv.all("route").map((r) => `Route: ${r}`), `Content-Length: 0`, ``, ``,
    ].join("\r\n");
  }

  // ---- the UAC ----------------------------------------------------------------------------------

  /** REGISTER (refreshes keep the Call-ID and count CSeq on, §10.2.4); a 401 is answered once with digest. */
  register(expires = 600, auth = null, nc = 1) {
    this.regCallId ??= this.id("reg");
    const cseq = ++this.regCseq;
    const uri = `sip:${this.domain}`;
    const text = [
      `REGISTER ${uri} SIP/2.0`, `Via: SIP/2.0/UDP ${this.addr};rport;branch=z9hG4bK${this.id("r")}`, `Max-Forwards: 70`,
      `From: <sip:${this.user}@${this.domain}>;tag=${this.id("t")}`, `To: <sip:${this.user}@${this.domain}>`, `Call-ID: ${this.regCallId}`,
      `CSeq: ${cseq} REGISTER`, `Contact: ${this.contact()}`, `Expires: ${expires}`,
      ...(auth ? [`Authorization: ${this.digest(auth, "REGISTER", uri, nc)}`] : []), `Content-Length: 0`, ``, ``,
    ].join("\r\n");
    this.registered = null;
    this.client(text, this.proxy, (r) => {
      if (r && r.status === 401 && this.password && !auth) {
        this.challenges++;
        return this.register(expires, r.get("www-authenticate"), 1);
      }
      if (r && r.status === 401) this.challenges++;
      this.registered = r ? r.status : 408;
    });
  }

  /** An Authorization value answering challenge `ch` (RFC 2617: MD5, qop=auth when offered). */
  digest(ch, method, uri, nc) {
    const p = (k) => new RegExp(`${k}="?([^",]*)"?`, "i").exec(ch)?.[1];
    const realm = p("realm"), nonce = p("nonce"), qop = /qop="?[^"]*\bauth\b/i.test(ch);
    const ha1 = md5(`${this.user}:${realm}:${this.password}`), ha2 = md5(`${method}:${uri}`);
    const ncs = nc.toString(16).padStart(8, "0"), cnonce = this.id("cn");
    const resp = qop ? md5(`${ha1}:${nonce}:${ncs}:${cnonce}:auth:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
    return `Digest username="${this.user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${resp}", algorithm=MD5` +
      (qop ? `, qop=auth, nc=${ncs}, cnonce="${cnonce}"` : "");
  }

  /** Calls sip:callee@domain through the proxy; returns the Call-ID. hangupAfter: ms after the 2xx
   * (null: never); headers: extra header lines; body: an SDP offer; toUser: the To's user when it is not
   * the callee (a provider calling our registered Contact about one of our numbers). */
  invite(callee, { hangupAfter = 2000, cancelAfterRinging = null, body = "", headers = [], cseq = 1, toUser = callee, ruriParams = "" } = {}) {
    const callId = this.id("call");
    const c = this.call(callId);
    c.role = "uac";
    c.hangupAfter = hangupAfter;
    const fromTag = this.id("f");
    const ruri = `sip:${callee}@${this.domain}${ruriParams}`;
    const text = (n, auth = []) => [
      `INVITE ${ruri} SIP/2.0`, `Via: SIP/2.0/UDP ${this.addr};rport;branch=z9hG4bK${this.id("i")}`, `Max-Forwards: 70`,
      `From: <sip:${this.user}@${this.domain}>;tag=${fromTag}`, `To: <sip:${toUser}@${this.domain}>`, `Call-ID: ${callId}`,
      `CSeq: ${n} INVITE`, `Contact: ${this.contact()}`, ...headers, ...auth,
      ...(body ? [`Content-Type: application/sdp`] : []), `Content-Length: ${Buffer.byteLength(body)}`, ``, body,
    ].join("\r\n");
    const send = (t) => {
      c.invite = parse(t);
      c.localCseq = c.invite.cseqNum;
      this.client(t, this.proxy, (r) => {
        // a proxy's challenge (407), answered once with our password, the INVITE again (CSeq + 1)
        if (r?.status === 407 && this.password && !c.answered407) {
          c.answered407 = true;
          this.challenges++;
          return send(text(c.invite.cseqNum + 1, [`Proxy-Authorization: ${this.digest(r.get("proxy-authenticate"), "INVITE", ruri, 1)}`]));
        }
        if (!r) c.inviteTimeout = true;
        else c.finals.push(r.status);
      }, onProvisional);
    };
    const onProvisional = (r) => {
      c.provisionals++;
      (c.provisionalMsgs ??= []).push(r);
      this.prackFor(c, r);
      if (cancelAfterRinging !== null && !c.cancelSent) {
        c.cancelSent = true;
        this.sim.after(cancelAfterRinging, () => this.cancel(c));
      }
    };
    send(text(cseq));
    return callId;
  }

  /**
   * RFC 3262 §4: a reliable provisional r (Require: 100rel, RSeq) to our INVITE with CSeq `cseq` gets a
   * PRACK when we PRACK at all and its RSeq is the next one of `h` (h.rseq, the last PRACKed: a
   * retransmission is not PRACKed again). send(rack, entry) sends it; entry, in h.pracks, is [RAck,
   * status] and takes the PRACK's final.
   */
  prackNext(h, r, cseq, send) {
    if (!this.prack || !/\b100rel\b/i.test(r.get("require") ?? "")) return;
    const rseq = Number(r.get("rseq"));
    if (!Number.isInteger(rseq) || (h.rseq !== undefined && rseq !== h.rseq + 1)) return;
    h.rseq = rseq;
    const rack = `${rseq} ${cseq} INVITE`;
    const entry = [rack, null];
    (h.pracks ??= []).push(entry);
    send(rack, entry);
  }

  /** prackNext for call c's INVITE, in the early dialog r made (c.rseq, c.pracks). */
  prackFor(c, r) {
    this.prackNext(c, r, c.invite.cseqNum, (rack, entry) => {
      const routes = r.all("record-route").reverse();
      const d = { target: uriOf(r.get("contact") ?? ""), routes, to: r.get("to") };
      const dest = routes.length ? hostPort(routes[0]) : hostPort(d.target);
      this.client(this.inDialog(c, d, "PRACK", ++c.localCseq, this.prackBody, [`RAck: ${rack}`]), dest, (p) => (entry[1] = p ? p.status : 408));
    });
  }

  cancel(c) {
    const inv = c.invite;
    c.cancelAt = this.sim.now;
    const text = [
      `CANCEL ${inv.ruri} SIP/2.0`, `Via: ${inv.get("via")}`, `Max-Forwards: 70`, `From: ${inv.get("from")}`, `To: ${inv.get("to")}`,
      `Call-ID: ${inv.callId}`, `CSeq: ${inv.cseqNum} CANCEL`, `Content-Length: 0`, ``, ``,
    ].join("\r\n");
    this.client(text, this.proxy, (r) => (c.cancelStatus = r ? r.status : 408));
  }

  /** Every 2xx to our INVITE: a dialog per To tag, ACKed each time; the extra ones of a fork are BYEd. */
  uac2xx(msg) {
    const c = this.calls.get(msg.callId);
    if (!c || c.role !== "uac") {
      this.stray.push(msg.first);
      return;
    }
    let d = c.dialogs.get(msg.toTag);
    if (!d) {
      const routes = msg.all("record-route").reverse();
      d = { tag: msg.toTag, target: uriOf(msg.get("contact") ?? ""), routes, to: msg.get("to"), acks: 0, bye: null, cseq: c.localCseq ?? 1, resp: msg };
      d.dest = routes.length ? hostPort(routes[0]) : hostPort(d.target);
      // late offer (an INVITE without SDP): the 2xx carries the offer, our ACK the answer (RFC 3264 §5)
      const late = c.invite.text.endsWith("\r\n\r\n"); // no body
      d.ack = this.inDialog(c, d, "ACK", c.invite.cseqNum, late ? this.ackBody ?? "" : "");
      c.dialogs.set(msg.toTag, d);
      if (!c.finals.includes(200)) c.finals.push(msg.status);
      const first = c.dialogs.size === 1;
      if (!first || c.hangupAfter !== null) this.sim.after(first ? c.hangupAfter : 0, () => this.bye(c, d));
    }
    d.acks++;
    // the ACK of a re-INVITE's 2xx carries that INVITE's CSeq (§13.2.2.4)
    this.send(d.dest, msg.cseqNum === c.invite.cseqNum ? d.ack : this.inDialog(c, d, "ACK", msg.cseqNum));
  }

  /**
   * A re-INVITE within our dialog d of call c (hold: an SDP with a=sendonly; resume: sendrecv): with our
   * Contact and the SDP, the next CSeq; its final goes to d.reinvites ([status, response]).
   */
  reinvite(c, d, body, { retry = false, headers = [] } = {}) {
    const cseq = ++d.cseq;
    const text = this.inDialog(c, d, "INVITE", cseq, body, headers);
    d.reinvites ??= [];
    const rel = { cseq, pracks: [] };
    (d.reinviteRel ??= []).push(rel);
    c.outInvite = this.client(text, d.dest, (r) => {
      c.outInvite = null;
      d.reinvites.push([r ? r.status : 408, r]);
      // §14.1: after a 491, the same offer again after a random wait (we own the Call-ID: 2.1-4 s)
      if (r?.status === 491 && retry) this.sim.after(this.glareWait(true), () => !d.bye && this.reinvite(c, d, body, { retry, headers }));
    }, (r) => this.prackNext(rel, r, cseq, (rack, entry) => this.client(this.inDialog(c, d, "PRACK", ++d.cseq, "", [`RAck: ${rack}`]), d.dest,
      (p) => (entry[1] = p ? p.status : 408))));
    return cseq;
  }

  /** §14.1's wait before a re-INVITE again after a 491: 2.1-4 s for the Call-ID's owner, else 0-2 s (10 ms steps). */
  glareWait(owner) {
    const r = this.sim.rng.u32();
    return owner ? 2100 + (r % 191) * 10 : (r % 201) * 10;
  }

  /** Whether call c's dialog is ending or over (a BYE sent or received): requests in it get 481. */
  dialogGone(c) {
    return c.role === "uac" ? [...c.dialogs.values()].some((d) => d.bye) : Boolean(c.byeSent || c.byes);
  }

  /** A pending re-INVITE we were answering in call c ends with 487 as its dialog ends (§15.1.2). */
  endPending(c) {
    const st = c.inInvite;
    c.inInvite = null;
    if (st && st.final === null && this.endPendingOnBye !== false) this.answerIn(st, c, 487);
  }

  inDialog(c, d, method, cseq, body = "", headers = []) {
    const inv = c.invite;
    return [
      `${method} ${d.target} SIP/2.0`, `Via: SIP/2.0/UDP ${this.addr};rport;branch=z9hG4bK${this.id(method[0])}`, `Max-Forwards: 70`,
      ...d.routes.map((r) => `Route: ${r}`), `From: ${inv.get("from")}`, `To: ${d.to}`, `Call-ID: ${inv.callId}`,
      `CSeq: ${cseq} ${method}`, ...(method === "INVITE" ? [`Contact: ${this.contact()}`] : []), ...headers,
      ...(body ? [`Content-Type: application/sdp`] : []), `Content-Length: ${Buffer.byteLength(body)}`, ``, body,
    ].join("\r\n");
  }

  bye(c, d) {
    if (d.bye) return;
    this.endPending(c);
    d.bye = "sent";
    this.client(this.inDialog(c, d, "BYE", ++d.cseq), d.dest, (r) => (d.bye = r ? r.status : 408));
  }

  // ---- server transactions and the UAS ------------------------------------------------------------

  receive(from, bytes) {
    const msg = parse(bytes.toString("latin1"));
    if (!msg.first) return;
    if (msg.status) return this.onResponse(msg);
    if (msg.method === "ACK") return this.onAck(msg);
    const key = `${msg.branch} ${msg.method}`;
    const t = this.st.get(key);
    if (t) {
      if (t.last) this.send(t.dest, t.last); // a retransmission: the last response again
      return;
    }
    const via = parse(msg.text).all("via")[0] ?? "";
    const rport = /;rport=(\d+)/.exec(via)?.[1];
    const received = /;received=([^;]+)/.exec(via)?.[1];
    const sentBy = /^SIP\/2\.0\/UDP\s+([^;]+)/i.exec(via)?.[1] ?? from;
    const dest = `${received ?? sentBy.split(":")[0]}:${rport ?? sentBy.split(":")[1] ?? 5060}`;
    const st = { msg, dest, last: null, final: null, timers: [], key };
    this.st.set(key, st);
    const known = msg.toTag && msg.method !== "CANCEL" ? this.calls.get(msg.callId) : null;
    if (known) (known.inSeq ??= []).push(msg.cseqNum); // CSeqs of the peer's requests within the dialog
    if (msg.method === "INVITE") this.uasInvite(st);
    else if (msg.method === "CANCEL") this.uasCancel(st);
    else if (msg.method === "BYE") {
      const c = this.calls.get(msg.callId);
      if (c) c.byes++;
      // our dialog: as the callee (we sent a 2xx), or as the caller (a 2xx made it; the peer hangs up)
      const d = c?.role === "uac" ? c.dialogs.get(msg.fromTag) : null;
      if (d && !d.bye) d.bye = "received";
      const ours = c && ((c.role === "uas" && c.sentFinal !== null && c.sentFinal < 300) || d);
      if (ours) this.endPending(c);
      this.respond(st, ours ? 200 : 481);
    } else if (msg.method === "PRACK") {
      // RFC 3262 §3: the PRACK of our reliable provisional (RAck: its RSeq, the INVITE's CSeq and
      // method), to the call's INVITE or to a re-INVITE within it
      const c = this.calls.get(msg.callId);
      (c ? (c.pracksIn ??= []) : []).push(msg.get("rack"));
      if (c) (c.prackMsgs ??= []).push(msg);
      const rack = msg.get("rack")?.split(/\s+/).join(" ");
      const inv = [c?.st, c?.relIn].find((s) => s?.rel && msg.toTag === s.tag && rack === `${s.rel.rseq} ${s.msg.cseqNum} INVITE`);
      if (inv) inv.rel.pracked = true;
      this.respond(st, inv ? 200 : 481);
    } else {
      const c = this.calls.get(msg.callId);
      if (c) (c.requests ??= []).push(msg); // INFO, UPDATE ... within a call: recorded, answered 200
      this.respond(st, 200);
    }
  }

  respond(st, code, toTag, extra = [], body = "") {
    const m = st.msg;
    const to = m.get("to") + (m.toTag || !toTag ? "" : `;tag=${toTag}`);
    const text = [
      `SIP/2.0 ${code} ${code === 200 ? "OK" : code === 180 ? "Ringing" : code === 487 ? "Request Terminated" : "Status"}`,
      ...m.headers.filter(([k]) => k === "via").map(([, v]) => `Via: ${v}`),
      ...(m.method === "INVITE" && code < 300 ? m.headers.filter(([k]) => k === "record-route").map(([, v]) => `Record-Route: ${v}`) : []),
      `From: ${m.get("from")}`, `To: ${to}`, `Call-ID: ${m.callId}`, `CSeq: ${m.cseqNum} ${m.method}`,
      ...(m.method === "INVITE" && code < 300 ? [`Contact: ${this.contact()}`] : []),
      ...(m.method === "INVITE" && code === 200 ? this.answerHeaders : []), ...extra,
      ...((m.method === "INVITE" && code === 200 && this.answerBody) || body ? [`Content-Type: application/sdp`] : []),
      `Content-Length: ${m.method === "INVITE" && code === 200 ? Buffer.byteLength(this.answerBody) : Buffer.byteLength(body)}`, ``,
      m.method === "INVITE" && code === 200 ? this.answerBody : body,
    ].join("\r\n");
    st.last = text;
    this.send(st.dest, text);
    if (code >= 200) st.final = code;
    return text;
  }

  uasInvite(st) {
    const known = this.calls.get(st.msg.callId);
    if (st.msg.toTag && known && (known.role === "uac" || known.st)) return this.reinviteIn(st, known);
    const c = this.call(st.msg.callId);
    c.role = "uas";
    c.invites++;
    st.tag = this.id("u");
    if (this.challenge && !this.checkCredentials(st)) return;
    c.st = st;
    const offers100rel = /\b100rel\b/i.test(`${st.msg.all("supported")},${st.msg.all("require")}`);
    if (this.ring !== null) st.timers.push(this.sim.after(this.ring, () => {
      if (st.final !== null) return;
      c.provisionals++;
      if (!(this.reliable && offers100rel)) return void this.respond(st, 180, st.tag);
      // RFC 3262 §3: reliably, retransmitted at T1 doubling until its PRACK (or the final)
      st.rel = { rseq: 1 + (this.sim.rng.u32() % 1000), pracked: false };
      const text = this.respond(st, 180, st.tag, ["Require: 100rel", `RSeq: ${st.rel.rseq}`], this.earlyBody);
      st.last = text;
      let interval = this.t1;
      const again = () => {
        if (st.rel.pracked || st.final !== null) return;
        this.send(st.dest, text);
        interval *= 2;
        if (interval < 64 * this.t1) st.timers.push(this.sim.after(interval, again));
      };
      st.timers.push(this.sim.after(interval, again));
    }));
    if (this.answerAfter !== null) st.timers.push(this.sim.after(this.answerAfter, () => this.answer(st, c, this.finalStatus)));
  }

  /**
   * A re-INVITE in our dialog of call c (as callee or caller), the dialog's tag kept: 481 once the
   * dialog is ending (a BYE sent or received), 491 while a re-INVITE of ours is pending (glare, §14.2),
   * otherwise answered after reinviteDelay ms with reinviteStatus (200 and our SDP).
   */
  reinviteIn(st, c) {
    st.tag = st.msg.toTag;
    if (c.role === "uas") c.invites++;
    (c.reinvites ??= []).push(st.msg);
    if (this.dialogGone(c)) return this.answerIn(st, c, 481);
    if (c.outInvite) return this.answerIn(st, c, 491);
    c.inInvite = st;
    if (this.reliableReinvite && /\b100rel\b/i.test(`${st.msg.all("supported")},${st.msg.all("require")}`)) {
      // RFC 3262 §3 on a re-INVITE (reliableReinvite): a reliable 183 first, retransmitted at T1 doubling
      // until its PRACK; the final waits for that PRACK
      st.rel = { rseq: 1 + (this.sim.rng.u32() % 1000), pracked: false };
      c.relIn = st;
      const text = this.respond(st, 183, st.tag, ["Require: 100rel", `RSeq: ${st.rel.rseq}`]);
      let interval = this.t1;
      const again = () => {
        if (st.rel.pracked || st.final !== null || interval >= 64 * this.t1) return;
        this.send(st.dest, text);
        interval *= 2;
        this.sim.after(interval, again);
      };
      this.sim.after(interval, again);
    }
    const since = this.sim.now;
    const answer = () => {
      // §3: no PRACK within 64·T1: the re-INVITE is refused with a 5xx
      const unpracked = st.rel && !st.rel.pracked && st.final === null;
      if (unpracked && this.sim.now - since < 64 * this.t1) return void this.sim.after(50, answer);
      if (c.inInvite === st) c.inInvite = null;
      this.answerIn(st, c, unpracked ? 500 : this.reinviteStatus ?? 200);
    };
    this.sim.after(this.reinviteDelay ?? 0, answer);
  }

  /** A final to re-INVITE st of call c (kept in c.answeredIn), retransmitted until its ACK (2xx by the
   * UAS core, §13.3.1.4, matched by CSeq in onAck; others by Timer G, matched by branch). */
  answerIn(st, c, code) {
    if (st.final !== null) return;
    const text = this.respond(st, code, st.tag);
    (c.answeredIn ??= []).push(st);
    let interval = this.t1;
    const again = () => {
      if (st.acked) return;
      this.send(st.dest, text);
      interval = Math.min(interval * 2, this.t2);
      st.retx = this.sim.after(interval, again);
    };
    st.retx = this.sim.after(interval, again);
    this.sim.after(64 * this.t1, () => this.sim.cancel(st.retx));
  }

  /** RFC 2617 with qop=auth, as a provider's proxy checks it: true when the INVITE may go on. */
  checkCredentials(st) {
    const { realm, user, password } = this.challenge;
    const pa = st.msg.get("proxy-authorization");
    const c = this.calls.get(st.msg.callId);
    if (!pa) {
      this.challenged++;
      st.nonce = this.id("n");
      this.nonces ??= new Set();
      this.nonces.add(st.nonce);
      this.answer(st, c, 407, [`Proxy-Authenticate: Digest realm="${realm}", nonce="${st.nonce}", qop="auth", algorithm=MD5`]);
      return false;
    }
    const p = (k) => new RegExp(`${k}="?([^",]*)"?`, "i").exec(pa)?.[1];
    const ha1 = md5(`${user}:${realm}:${password}`), ha2 = md5(`INVITE:${p("uri")}`);
    const want = md5(`${ha1}:${p("nonce")}:${p("nc")}:${p("cnonce")}:auth:${ha2}`);
    if (p("username") !== user || !this.nonces?.has(p("nonce")) || p("response") !== want || p("uri") !== st.msg.ruri) {
      this.answer(st, c, 403);
      return false;
    }
    this.authorized++;
    return true;
  }

  answer(st, c, code, extra = []) {
    if (st.final !== null) return;
    c.sentFinal = code;
    const text = this.respond(st, code, st.tag, extra);
    // retransmit until the ACK: 2xx by the UAS core at T1 doubling to T2 (§13.3.1.4), 3xx-6xx by Timer G
    let interval = this.t1;
    const again = () => {
      if (code < 300 ? c.ackFor2xx > 0 : st.acked) return;
      this.send(st.dest, text);
      interval = Math.min(interval * 2, this.t2);
      st.retx = this.sim.after(interval, again);
    };
    st.retx = this.sim.after(interval, again);
    st.giveUp = this.sim.after(64 * this.t1, () => {
      this.sim.cancel(st.retx);
      if (code < 300 && c.ackFor2xx === 0) c.noAck = true; // §13.3.1.4: the dialog ends (a BYE would follow)
    });
  }

  /** A request within a call we answered (INFO with a DTMF body ...): to the caller's Contact; its final to c.sent. */
  uasRequestInDialog(callId, method, body = "", type = "application/dtmf-relay", headers = []) {
    const c = this.calls.get(callId);
    c.localCseq = (c.localCseq ?? 0) + 1;
    const { text, dest } = this.calleeRequest(c, method, c.localCseq, body, type, headers);
    c.sent ??= [];
    c.sentResponses ??= [];
    this.client(text, dest, (r) => { c.sent.push([method, r ? r.status : 408]); c.sentResponses.push(r); });
  }

  /** A request of ours as the callee within call c (to the caller's Contact, with its route set): { text, dest }. */
  calleeRequest(c, method, cseq, body = "", type = "", headers = []) {
    const m = c.st.msg;
    const routes = m.all("record-route");
    const target = uriOf(m.get("contact") ?? "");
    const text = [
      `${method} ${target} SIP/2.0`, `Via: SIP/2.0/UDP ${this.addr};rport;branch=z9hG4bK${this.id(method[0].toLowerCase())}`, `Max-Forwards: 70`,
      ...routes.map((r) => `Route: ${r}`), `From: ${m.get("to")};tag=${c.st.tag}`, `To: ${m.get("from")}`, `Call-ID: ${m.callId}`,
      `CSeq: ${cseq} ${method}`, ...headers, ...(body ? [`Content-Type: ${type}`] : []), `Content-Length: ${Buffer.byteLength(body)}`, ``, body,
    ].join("\r\n");
    return { text, dest: routes.length ? hostPort(routes[0]) : hostPort(target) };
  }

  /**
   * The callee's re-INVITE in call `callId` (an SDP offer), its ACK written from the dialog; its final
   * goes to c.sentReinvites ([status, response]). retry: after a 491, again after §14.1's wait (the
   * callee does not own the Call-ID: 0-2 s). False when the call is not up or is ending.
   */
  uasReinvite(callId, body, { retry = false, headers = [] } = {}) {
    const c = this.calls.get(callId);
    if (!c || c.role !== "uas" || c.sentFinal !== 200 || this.dialogGone(c)) return false;
    const cseq = (c.localCseq = (c.localCseq ?? 0) + 1);
    const { text, dest } = this.calleeRequest(c, "INVITE", cseq, body, "application/sdp", [`Contact: ${this.contact()}`, ...headers]);
    c.sentReinvites ??= [];
    const rel = { cseq, pracks: [] };
    (c.sentReinviteRel ??= []).push(rel);
    const t = this.client(text, dest, (r) => {
      c.outInvite = null;
      c.sentReinvites.push([r ? r.status : 408, r]);
      if (r?.status === 491 && retry) this.sim.after(this.glareWait(false), () => this.uasReinvite(callId, body, { retry, headers }));
    }, (r) => this.prackNext(rel, r, cseq, (rack, entry) => {
      c.localCseq++;
      const p = this.calleeRequest(c, "PRACK", c.localCseq, "", "", [`RAck: ${rack}`]);
      this.client(p.text, p.dest, (x) => (entry[1] = x ? x.status : 408));
    }));
    t.ack2xx = this.calleeRequest(c, "ACK", cseq).text;
    c.outInvite = t;
    return true;
  }

  /** Hang up a call we answered (the callee's BYE, §15.1.1): to the caller's Contact, with its route set. */
  uasBye(callId) {
    const c = this.calls.get(callId);
    if (!c || c.role !== "uas" || c.sentFinal !== 200 || c.byeSent) return false;
    this.endPending(c);
    c.byeSent = "sent";
    c.localCseq = (c.localCseq ?? 0) + 1;
    const { text, dest } = this.calleeRequest(c, "BYE", c.localCseq);
    this.client(text, dest, (r) => (c.byeSent = r ? r.status : 408));
    return true;
  }

  uasCancel(st) {
    const c = this.call(st.msg.callId);
    c.cancels++;
    const inv = this.st.get(`${st.msg.branch} INVITE`);
    this.respond(st, inv ? 200 : 481);
    if (inv && inv.final === null) {
      for (const t of inv.timers) this.sim.cancel(t);
      this.answer(inv, c, 487);
    }
  }

  onAck(msg) {
    const inv = this.st.get(`${msg.branch} INVITE`);
    const c = this.calls.get(msg.callId);
    const re = c?.answeredIn?.find((s) => s.msg.cseqNum === msg.cseqNum && s.final < 300);
    if (re && msg.toTag === re.tag) {
      // the ACK of our 2xx to a re-INVITE (its CSeq, a branch of its own)
      re.acked = true;
      this.sim.cancel(re.retx);
      return;
    }
    if (inv && inv.final >= 300) {
      // the ACK of our non-2xx final (same branch)
      if (!inv.acked && c) c.ackForFinal++;
      inv.acked = true;
      this.sim.cancel(inv.retx);
      return;
    }
    if (c && c.role === "uas" && c.sentFinal !== null && c.sentFinal < 300 && msg.toTag === c.st?.tag) {
      c.ackFor2xx++;
      c.ack2xx ??= msg; // the first ACK of our 2xx (a late offer's answer is in its body)
      this.sim.cancel(c.st.retx);
      return;
    }
    this.stray.push(msg.first);
  }
}
