// The page agent of the browser_swarm example: connects to the node that served the page,
// hosts `page-agent`, calls the Rust `adder`, listens to `ticks`, and starts a worker that
// hosts `worker-agent` through this page's connection.
import init, { connect } from "/pkg/swarm_web.js";

const $ = (id) => document.getElementById(id);
const log = (text) => {
  const line = document.createElement("div");
  line.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  $("log").prepend(line);
};

await init();
const swarm = connect(`ws://${location.host}/swarm`, { name: "browser-page" });
swarm.onState(({ state, reason }) => {
  $("state").textContent = state;
  $("state").className = state;
  log(`link ${state}${reason ? `: ${reason}` : ""}`);
});
swarm.register("page-agent", ({ method, params, from }) => {
  log(`${from} called page-agent.${method}(${JSON.stringify(params)})`);
  return `hello ${params}, from the page`;
});
swarm.subscribe("ticks", (tick) => { $("tick").textContent = tick; });
$("isolated").textContent = String(self.crossOriginIsolated);

const worker = new Worker("/worker.js", { type: "module" });
swarm.attachWorker(worker);

try {
  $("sum").textContent = await swarm.request("adder", "add", [2, 40], { timeoutMs: 5000 });
} catch (e) {
  $("sum").textContent = `${e.kind}: ${e.message}`;
}
setInterval(() => {
  const s = swarm.stats();
  $("stats").textContent = `${s.messagesIn} in, ${s.messagesOut} out, ${s.connects} connect(s), workers: ${s.workers.join(", ") || "none"}`;
  $("worker").textContent = s.workers.length ? `worker-agent, over ${s.workers[0]}` : "starting…";
}, 500);
