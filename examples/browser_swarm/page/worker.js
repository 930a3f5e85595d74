// The worker agent of the browser_swarm example: joins through the page (joinPage) and hosts
// `worker-agent`, which also asks the Rust adder something.
import init, { joinPage } from "/pkg/swarm_web.js";

await init();
const swarm = joinPage({ name: "browser-worker" });
swarm.register("worker-agent", async ({ params }) => {
  const sum = await swarm.request("adder", "add", [20, 22]);
  return `hello ${params}, from the worker (adder said ${sum})`;
});
