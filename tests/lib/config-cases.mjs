// Configuration cases shared by the hosts' tests: every host validates with the same schema
// (host/shared/config.json) and must give the same messages (host/shared/config.mjs is the reference;
// host/c/config.c and host/wasi/config.ts follow it).

export const HA1 = "0123456789abcdef0123456789abcdef";
export const HA1_256 = HA1 + HA1;

/** Every security key, as a file (usageLog: a path that is only printed, never opened). */
export const FULL = {
  realm: "sipling.example",
  users: [
    { username: "alice", password: "TopSecret-1" },
    { username: "bob", ha1: HA1 },
    { username: "carol", ha1: HA1, ha1Sha256: HA1_256 },
  ],
  allowUnauthenticated: false,
  nonceSecret: "00112233445566778899aabbccddeeff",
  nonceExpiry: 120,
  access: { allow: ["10.0.0.0/8"], deny: ["192.0.2.1", "2001:db8::/32"], trusted: ["127.0.0.0/8", "::1"], refuse: "drop" },
  methods: { block: ["MESSAGE", "SUBSCRIBE"] },
  denyUris: ["spam@example.org", "@bad.example", "@.worse.example", "robot@"],
  flood: { limit: 50, blockSeconds: 30, action: "drop", authFailures: 5, authWindow: 120 },
  body: { maxBytes: 4096, allowTypes: ["INVITE application/sdp", "* application/sdp"], messagePatterns: ["buy now", { hex: "00ff10" }] },
  topologyHiding: true,
  usageLog: "/var/log/sipling/usage.jsonl",
};

/** [file value, ...texts its error must contain] */
export const VALIDATION_CASES = [
  [{ access: { deny: ["10.0.0.300/8"] } }, `"access.deny[0]": expected an IPv4 or IPv6 address or CIDR`],
  [{ access: { allow: ["10.0.0.0/8", "10.0.0.0/33"] } }, `"access.allow[1]"`],
  [{ access: { trusted: ["2001:db8::/129"] } }, `"access.trusted[0]"`],
  [{ access: { refuse: "404" } }, `"access.refuse": expected "403" or "drop"`],
  [{ access: { block: [] } }, `"access.block": unknown key`],
  [{ users: [{ username: "alice", password: "x" }, { username: "bob" }] }, `"users[1]": user "bob" needs a "password" or an "ha1"`],
  [{ users: [{ username: "bob", ha1: "abc" }] }, `"users[0].ha1": expected 32 hex digits`],
  [{ users: [{ username: "bob", ha1Sha256: HA1 }] }, `"users[0].ha1Sha256": expected 64 hex digits`],
  [{ users: [{ username: "bob", password: "p", ha1: HA1 }] }, `"users[0]"`, "not both"],
  [{ users: [{ username: "a:b", password: "p" }] }, `"users[0].username": expected a SIP token`],
  [{ users: [{ username: "x".repeat(61), password: "p" }] }, `"users[0].username"`],
  [{ users: [{ username: "a", password: "p" }, { username: "a", password: "q" }] }, `"users[1].username": duplicate`],
  [{ users: [{ username: "a", pass: "p" }] }, `"users[0].pass": unknown key`],
  [{ flood: { limit: 10, burst: 3 } }, `"flood.burst": unknown key`],
  [{ flood: { action: "reject" } }, `"flood.action": expected "503" or "drop"`],
  [{ flood: { limit: -1 } }, `config error: "flood.limit": expected an integer in 0..2147483647, got -1`],
  [{ flood: { authWindow: 0 } }, `"flood.authWindow": expected an integer in 1..`],
  [{ methods: { block: ["MES SAGE"] } }, `"methods.block[0]"`],
  [{ methods: { allow: ["INVITE"] } }, `"methods.allow": unknown key`],
  [{ denyUris: ["no-at-sign"] }, `"denyUris[0]"`],
  [{ body: { allowTypes: ["INVITE"] } }, `"body.allowTypes[0]": expected "METHOD type/subtype"`],
  [{ body: { messagePatterns: [{ hex: "0g" }] } }, `"body.messagePatterns[0]"`],
  [{ body: { messagePatterns: ["x".repeat(65)] } }, `"body.messagePatterns[0]": expected 1..64 bytes`],
  [{ body: { maxSize: 1 } }, `"body.maxSize": unknown key`],
  [{ nonceSecret: "abcd" }, `"nonceSecret": expected a hex string`],
  [{ nonceExpiry: 0 }, `"nonceExpiry": expected an integer`],
  [{ realm: 'a"b' }, `"realm"`],
  [{ topologyHiding: "yes" }, `"topologyHiding": expected true or false`],
  [{ allowUnauthenticated: 1 }, `"allowUnauthenticated": expected true or false`],
  [{ usageLog: "" }, `"usageLog": expected a file name`],
  [{ digestAlgorithms: ["MD5", "MD5"] }, `"digestAlgorithms[1]": duplicate "MD5"`],
  [{ digestAlgorithms: ["SHA-512"] }, `"digestAlgorithms[0]": expected one of MD5|SHA-256, got "SHA-512"`],
  [{ digestAlgorithms: [] }, `"digestAlgorithms": expected at least 1 element`],
  [{ timers: { t1: 5000 } }, `"timers.t1": must not exceed timers.t2 (4000), got 5000`],
  [{ registrar: { defaultExpires: 7200 } }, `"registrar.defaultExpires": must not exceed registrar.maxExpires (3600), got 7200`],
];

/** The secure default's message for a listen address. */
export const secureDefaultError = (spec) =>
  `config error: listening on ${spec} with no "users" would let anyone register and relay calls; ` +
  `add "users" (and "realm") or set "allowUnauthenticated": true`;
