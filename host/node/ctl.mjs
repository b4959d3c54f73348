// `sipling ctl`: the management API's command line (host/node/manage.ts; "management": true and
// metrics.listen in the server's configuration). Plain JavaScript with Node's fetch: no build.
//
//   sipling ctl [--url http://IP:PORT] registrations [AOR]     list bindings (all, or one AOR's)
//   sipling ctl [--url http://IP:PORT] remove AOR [CONTACT]     remove an AOR's bindings (or one contact)
//   sipling ctl [--url http://IP:PORT] status                   tables, trunks, the location service
//   --json   print the API's JSON as it is
// The URL defaults to $SIPLING_CTL_URL, else http://127.0.0.1:9090. Exit status: 0 done, 1 the server
// answered an error (or is unreachable), 2 a usage error.

const USAGE = `usage: sipling ctl [--url http://IP:PORT] [--json] registrations [AOR] | remove AOR [CONTACT] | status
  the server needs "management": true and "metrics.listen" (the URL's address); default URL $SIPLING_CTL_URL or http://127.0.0.1:9090`;

/** @param {string[]} argv the arguments after "ctl" @param {(s: string) => void} out @returns {Promise<number>} */
export async function ctl(argv, out = (s) => process.stdout.write(s), err = (s) => process.stderr.write(s)) {
  let url = process.env.SIPLING_CTL_URL ?? "http://127.0.0.1:9090";
  let json = false;
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--url") url = argv[++i] ?? "";
    else if (argv[i] === "--json") json = true;
    else if (argv[i] === "-h" || argv[i] === "--help") { out(`${USAGE}\n`); return 0; }
    else rest.push(argv[i]);
  }
  const [cmd, a1, a2, extra] = rest;
  let method = "GET";
  let path;
  if (cmd === "registrations" && extra === undefined && a2 === undefined) path = a1 === undefined ? "/registrations" : `/registrations/${encodeURIComponent(a1)}`;
  else if (cmd === "remove" && a1 !== undefined && extra === undefined) {
    method = "DELETE";
    path = `/registrations/${encodeURIComponent(a1)}${a2 !== undefined ? `?contact=${encodeURIComponent(a2)}` : ""}`;
  } else if (cmd === "status" && a1 === undefined) path = "/status";
  if (!path || !/^https?:\/\/[^/]+$/.test(url.replace(/\/$/, ""))) {
    err(`${USAGE}\n`);
    return 2;
  }
  let res;
  try {
    res = await fetch(`${url.replace(/\/$/, "")}${path}`, { method, signal: AbortSignal.timeout(5000) });
  } catch (e) {
    err(`sipling ctl: ${url} unreachable: ${e?.cause?.code ?? e?.message ?? e}\n`);
    return 1;
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    err(`sipling ctl: ${url}${path} answered ${res.status} without JSON (is "management": true?)\n`);
    return 1;
  }
  if (json) out(`${JSON.stringify(body, null, 2)}\n`);
  else if (!res.ok) err(`sipling ctl: ${res.status}: ${body.error ?? JSON.stringify(body)}\n`);
  else if (cmd === "registrations") {
    out("AOR\tCONTACT\tEXPIRES\tQ\tORIGIN\tSOURCE\tPATH\n");
    for (const b of body) out(`${b.aor}\t${b.contact}\t${b.expires}\t${b.q ?? "-"}\t${b.origin}\t${b.source ?? "-"}\t${b.path ?? "-"}\n`);
  } else if (cmd === "remove") out(`removed ${body.removed}\n`);
  else out(`${JSON.stringify(body, null, 2)}\n`);
  return res.ok ? 0 : 1;
}
