// The page agent of the browser tests: it connects to the node named in the URL, hosts an
// agent called after the page, and does what the Rust test asks it to through that agent's
// methods. Its state changes are printed to the console as `STATE {...}` lines, which the
// driver (drive.mjs) hands to the test.
import init, { connect } from "/pkg/swarm_web.js";
import { hostile } from "/hostile.js";

const query = new URLSearchParams(location.search);
await init();
const name = query.get("name");
const options = {
  name,
  format: query.get("format") || "msgpack",
  backoffInitialMs: 50,
  backoffMaxMs: 300,
  heartbeatIntervalMs: Number(query.get("heartbeatMs") || 500),
  heartbeatTimeoutMs: Number(query.get("heartbeatTimeoutMs") || 5000),
  requestTimeoutMs: 30000,
};
if (query.get("token")) options.token = query.get("token");
if (query.get("sendBuffer")) options.sendBuffer = Number(query.get("sendBuffer"));
const swarm = connect(query.get("ws"), options);
const states = [];
swarm.onState((change) => {
  states.push(change.state);
  console.log("STATE " + JSON.stringify(change));
});
const counts = {};
const results = {};
const workers = {};

const methods = {
  echo: (params) => params,
  whoami: (params, from) => ({ name, from, isolated: self.crossOriginIsolated === true }),
  subscribe: ({ topic }) => {
    swarm.subscribe(topic, () => { counts[topic] = (counts[topic] || 0) + 1; });
    return true;
  },
  unsubscribe: ({ topic }) => { swarm.unsubscribe(topic); return true; },
  counts: () => counts,
  call: ({ agent, method, params, options }) => swarm.request(agent, method, params, options || {}),
  // Starts a request and returns at once; `result` tells later how (and how often) it ended.
  start: ({ key, agent, method, params, options }) => {
    results[key] = { answers: 0 };
    swarm.request(agent, method, params, options || {}).then(
      (value) => { results[key].answers += 1; results[key].value = value; },
      (error) => { results[key].answers += 1; results[key].error = { kind: error.kind, message: error.message }; },
    );
    return true;
  },
  result: ({ key }) => results[key] ?? null,
  states: () => states,
  stats: () => swarm.stats(),
  broadcast: ({ topic, data }) => { swarm.broadcast(topic, data); return true; },
  fail: () => { throw Object.assign(new Error("asked to fail"), { code: 42 }); },
  spawnWorker: ({ worker }) => {
    const w = new Worker(`/worker.js?name=${encodeURIComponent(worker)}`, { type: "module" });
    w.addEventListener("error", (e) => console.log(`WORKERERROR ${worker} ${e.message}`));
    swarm.attachWorker(w);
    workers[worker] = w;
    return true;
  },
  terminateWorker: ({ worker }) => { workers[worker].terminate(); return true; },
  hostile: (params) => hostile(query.get("ws"), params),
};

swarm.register(name, async ({ method, params, from }) => {
  const run = methods[method];
  if (!run) throw Object.assign(new Error(`the probe has no method ${method}`), { code: -32601 });
  return await run(params, from);
});
console.log("LOADED " + name);

// Sends `buffer` events to the agent `sink` at once (before the link can be up), and says
// which were refused and what the stats count.
if (query.get("buffer")) {
  const refused = [];
  for (let i = 0; i < Number(query.get("buffer")); i++) {
    try { swarm.send("sink", "item", i); } catch (e) { refused.push({ i, kind: e.kind, message: e.message }); }
  }
  const { buffered, refused: counted, state } = swarm.stats();
  console.log("BUFFER " + JSON.stringify({ refused, buffered, counted, state }));
}
