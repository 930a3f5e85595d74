// The dashboard page: a browser agent of the swarm (the swarm-web bundle) that subscribes to
// the snapshots and event lines its node publishes, and renders them. Actions go to the node's
// admin agent (close a link) or to any agent (a test request, timed here).
import init, { connect } from "./pkg/swarm_web.js";

const $ = (id) => document.getElementById(id);
const HISTORY = 60; // samples kept per sparkline
const GONE_KEPT = 50; // links shown down after they left the snapshot

const config = await (await fetch("./config.json")).json();
$("node").textContent = config.node;
document.title = `swarm ${config.node}`;
await init();

const query = new URLSearchParams(location.search);
const scheme = location.protocol === "https:" ? "wss" : "ws";
const name = `dashboard-${Math.random().toString(16).slice(2, 10)}`;
const swarm = connect(`${scheme}://${location.host}${config.swarm}`, {
  name,
  token: query.get("token") ?? undefined,
});

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (n, digits = 1) => (n == null ? "–" : Number(n).toFixed(digits));
const ago = (ms) => {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
};
const spark = (values) => {
  const w = 80, h = 18, max = Math.max(1, ...values);
  const step = w / Math.max(1, HISTORY - 1);
  const start = HISTORY - values.length;
  const points = values.map((v, i) => `${((start + i) * step).toFixed(1)},${(h - 1 - (v / max) * (h - 2)).toFixed(1)}`);
  return `<svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><polyline points="${points.join(" ")}"/></svg>`;
};
const push = (list, v) => { list.push(v); if (list.length > HISTORY) list.shift(); };

function log(kind, text) {
  const li = document.createElement("li");
  li.dataset.kind = kind;
  li.innerHTML = `<span class="muted">${new Date().toLocaleTimeString()}</span> <span class="kind ${esc(kind)}">${esc(kind)}</span> ${esc(text)}`;
  $("events").prepend(li);
  while ($("events").children.length > 200) $("events").lastChild.remove();
}

// Link states as the snapshot spells them (snake_case) name the badge classes.
const stateClass = (state) => String(state).replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();

swarm.onState(({ state, reason }) => {
  const s = stateClass(state);
  $("state").textContent = s === "active" ? "connected" : s;
  $("state").className = `badge ${s}`;
  const kind = s === "active" ? "link_up" : s === "closed" || s === "backing_off" ? "link_down" : "link";
  log(kind, `this page: ${s}${reason ? `: ${reason}` : ""}`);
});

// Per link id: its rate history and, once it left the snapshot, when.
const seen = new Map();
const totals = { in: [], out: [] };

function renderLinks(links) {
  const now = Date.now();
  const live = new Set(links.map((l) => l.link));
  for (const l of links) {
    const s = seen.get(l.link) ?? { in: [], out: [] };
    push(s.in, l.messages_in_per_sec);
    push(s.out, l.messages_out_per_sec);
    s.last = l;
    s.goneAt = undefined;
    seen.set(l.link, s);
  }
  for (const [id, s] of seen) {
    if (!live.has(id) && s.goneAt === undefined) {
      s.goneAt = now;
      log("link_down", `${id} ${s.last.transport} ${s.last.peer} gone from the node`);
    }
  }
  const gone = [...seen].filter(([, s]) => s.goneAt !== undefined).sort((a, b) => b[1].goneAt - a[1].goneAt);
  for (const [id] of gone.slice(GONE_KEPT)) seen.delete(id);

  const rows = [...seen.values()].map((s) => {
    const l = s.last;
    const down = s.goneAt !== undefined;
    const state = down ? "down" : l.state;
    const self = l.peer === name ? " <span class=\"muted\">(this page)</span>" : "";
    const action = down || l.state === "backing_off" ? "" : `<button data-close="${l.link}">close</button>`;
    return `<tr class="${down ? "gone" : ""}" data-link="${l.link}" data-peer="${esc(l.peer)}" data-state="${esc(state)}">
      <td>${l.link}</td><td>${esc(l.transport)}</td><td>${esc(l.peer)}${self}</td>
      <td><span class="badge ${down ? "down" : esc(l.state)}">${esc(state.replace("_", " "))}</span></td>
      <td>${down ? `${ago(now - s.goneAt)} ago` : ago(l.in_state_for_ms)}</td>
      <td>${l.rtt_ms == null ? "–" : `${fmt(l.rtt_ms, 2)} ms`}</td>
      <td data-rate-in="${down ? 0 : l.messages_in_per_sec}">${spark(s.in)}${fmt(down ? 0 : l.messages_in_per_sec)}</td>
      <td data-rate-out="${down ? 0 : l.messages_out_per_sec}">${spark(s.out)}${fmt(down ? 0 : l.messages_out_per_sec)}</td>
      <td>${l.queue_depth}</td><td>${l.reconnects}</td>
      <td class="error">${esc(l.last_error ?? "")}</td><td>${action}</td></tr>`;
  });
  $("links").tBodies[0].innerHTML = rows.join("");
}

function renderAgents(snap) {
  const rows = snap.agents.map((a) => ({ agent: a, node: snap.node, via: "here" }));
  for (const r of snap.routes) rows.push({ agent: r.agent, node: r.origin, via: `link ${r.link}${r.pool ? " (pool)" : ""}` });
  $("agents").tBodies[0].innerHTML = rows
    .map((r) => `<tr data-agent="${esc(r.agent)}" data-node="${esc(r.node)}"><td>${esc(r.agent)}</td><td>${esc(r.node)}</td><td>${esc(r.via)}</td></tr>`)
    .join("");
  const select = $("ask-agent");
  const chosen = select.value || config.admin;
  const names = [...new Set(rows.map((r) => r.agent))].sort();
  select.innerHTML = names.map((n) => `<option${n === chosen ? " selected" : ""}>${esc(n)}</option>`).join("");
}

function render(snap) {
  const s = snap.stats;
  const active = s.links.filter((l) => l.state === "active").length;
  const total = snap.links_total ?? s.links.length;
  $("c-links").textContent = `${active} / ${total}`;
  $("links-note").textContent = total > s.links.length ? `the ${s.links.length} busiest of ${total} links` : "";
  $("c-nodes").textContent = snap.nodes.length;
  $("c-agents").textContent = s.local_agents;
  $("c-sessions").textContent = snap.sessions;
  $("c-pending").textContent = s.pending_requests;
  $("c-drops").textContent = s.counters.drops;
  const rin = s.links.reduce((a, l) => a + l.messages_in_per_sec, 0);
  const rout = s.links.reduce((a, l) => a + l.messages_out_per_sec, 0);
  push(totals.in, rin);
  push(totals.out, rout);
  $("c-rate").textContent = `${fmt(rin)} · ${fmt(rout)}`;
  $("c-spark").innerHTML = spark(totals.in);
  $("draining").hidden = !snap.draining;
  $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  renderLinks(s.links);
  $("nodes").tBodies[0].innerHTML = snap.nodes
    .map((n) => `<tr data-node="${esc(n.name)}"><td>${esc(n.name)}${n.name === name ? " <span class=\"muted\">(this page)</span>" : ""}</td><td>${n.links.join(", ")}</td><td>${esc(n.agents.join(", "))}</td></tr>`)
    .join("");
  renderAgents(snap);
  $("topics").tBodies[0].innerHTML = snap.subscriptions
    .map((t) => `<tr data-topic="${esc(t.name)}"><td>${esc(t.kind)}</td><td>${esc(t.name)}</td><td>${t.local_subscribers}</td><td>${esc(t.remote.map((r) => r.origin).join(", "))}</td></tr>`)
    .join("");
}

console.log(`LOADED dashboard of ${config.node}`);
swarm.subscribe(config.stats_topic, (snap) => { if (snap.node === config.node) render(snap); });
swarm.subscribe(config.events_topic, (line) => { if (line.node === config.node) log(line.kind, line.text); });

$("links").addEventListener("click", async (e) => {
  const id = e.target?.dataset?.close;
  if (id === undefined) return;
  try {
    const found = await swarm.request(config.admin, "close_link", { link: Number(id) }, { timeoutMs: 5000 });
    log("action", found ? `closed link ${id}` : `link ${id} was already gone`);
  } catch (err) {
    log("action", `close link ${id} failed: ${err.kind ?? ""} ${err.message}`);
  }
});

$("ask").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("ask-result");
  let params;
  try {
    params = JSON.parse($("ask-params").value || "null");
  } catch (err) {
    out.textContent = `params are not JSON: ${err.message}`;
    return;
  }
  const agent = $("ask-agent").value, method = $("ask-method").value;
  out.textContent = "…";
  const started = performance.now();
  try {
    const reply = await swarm.request(agent, method, params, { timeoutMs: 5000 });
    out.dataset.outcome = "ok";
    out.textContent = `${JSON.stringify(reply)} in ${(performance.now() - started).toFixed(2)} ms`;
  } catch (err) {
    out.dataset.outcome = "error";
    out.textContent = `${err.kind ?? "error"}: ${err.message} after ${(performance.now() - started).toFixed(2)} ms`;
  }
});

setTimeout(() => {
  if ($("updated").textContent.startsWith("waiting")) {
    $("updated").textContent = "no stats yet: is Dashboard::start running on this node?";
  }
}, 4000);
