// The proxy + registrar as a Node library: node examples/library.mjs (in the repository, after
// npm run build && npm run bundle; or in a project that did npm install sipling).
// Registers nothing itself: point two phones at sip:alice@127.0.0.1 and sip:bob@127.0.0.1 (port below).
import { createServer } from "sipling";

const server = createServer({
  listen: ["udp:127.0.0.1:0"], // port 0: the system picks one, start() says which
  users: [{ username: "alice", password: "change-me-alice" }, { username: "bob", password: "change-me-bob" }],
});
server.on("reg-add", (e) => console.log(`registered ${e.aor} at ${e.contact} for ${e.expires} s`));
server.on("call-attempt", (e) => console.log(`call ${e.caller} -> ${e.callee}`));
server.on("auth-fail", (e) => console.log(`authentication failed for ${e.user} from ${e.source}`));

const [udp] = await server.start();
console.log(`listening on ${udp.proto}:${udp.host}:${udp.port}`);
const stop = async () => {
  console.log("stats", server.stats());
  await server.stop();
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
