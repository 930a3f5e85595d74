// A worker agent of the browser tests: joins the swarm through the page that started it
// (joinPage) and hosts an agent named in its URL.
import init, { joinPage } from "/pkg/swarm_web.js";

const name = new URLSearchParams(location.search).get("name");
await init();
const swarm = joinPage({ name: `${name}-node`, heartbeatIntervalMs: 500 });
const counts = {};
const methods = {
  echo: (params) => params,
  whoami: () => ({ name, isolated: self.crossOriginIsolated === true, stats: swarm.stats() }),
  call: ({ agent, method, params, options }) => swarm.request(agent, method, params, options || {}),
  subscribe: ({ topic }) => {
    swarm.subscribe(topic, () => { counts[topic] = (counts[topic] || 0) + 1; });
    return true;
  },
  counts: () => counts,
};
swarm.register(name, async ({ method, params }) => {
  const run = methods[method];
  if (!run) throw Object.assign(new Error(`the worker has no method ${method}`), { code: -32601 });
  return await run(params);
});
