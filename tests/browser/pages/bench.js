// The browser benchmark: each figure beside its raw floor, in the same page and run.
//   - round trip, one at a time: raw WebSocket echo (/echo) vs a swarm request to a Rust agent;
//   - pipelined round trips (all in flight): raw echo vs swarm requests;
//   - one-way: swarm events to a Rust counting agent, until it has counted them all;
//   - page ↔ worker floors: postMessage ping-pong vs SharedArrayBuffer + Atomics ping-pong
//     (the page spinning, the worker in Atomics.wait; and both in Atomics.waitAsync).
// Prints `RESULT {json}` for benches/browser.rs, and registers `bench-page` (and a worker's
// `bench-worker`) for the Rust side's own round trips.
import init, { connect } from "/pkg/swarm_web.js";

const query = new URLSearchParams(location.search);
const N = Number(query.get("n") || 2000);
await init();
const swarm = connect(`ws://${location.host}/swarm`, { name: "bench-node", format: query.get("format") || "msgpack" });
swarm.register("bench-page", ({ params }) => params);
const worker = new Worker("/worker.js?name=bench-worker", { type: "module" });
swarm.attachWorker(worker);
await new Promise((resolve) => swarm.onState(({ state }) => state === "Active" && resolve()));
const payload = new Uint8Array(64).fill(7);

function rawSocket() {
  return new Promise((resolve) => {
    const s = new WebSocket(`ws://${location.host}/echo`);
    s.binaryType = "arraybuffer";
    s.onopen = () => resolve(s);
  });
}

async function rawRoundTrips(socket, n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await new Promise((resolve) => { socket.onmessage = resolve; socket.send(payload); });
  }
  return (performance.now() - t0) * 1000 / n;
}

async function rawPipelined(socket, n) {
  const t0 = performance.now();
  await new Promise((resolve) => {
    let got = 0;
    socket.onmessage = () => { if (++got === n) resolve(); };
    for (let i = 0; i < n; i++) socket.send(payload);
  });
  return n / ((performance.now() - t0) / 1000);
}

async function swarmRoundTrips(n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await swarm.request("echo", "echo", payload);
  return (performance.now() - t0) * 1000 / n;
}

async function swarmPipelined(n) {
  const t0 = performance.now();
  const all = [];
  for (let i = 0; i < n; i++) all.push(swarm.request("echo", "echo", payload));
  await Promise.all(all);
  return n / ((performance.now() - t0) / 1000);
}

async function swarmOneWay(n) {
  await swarm.request("sink", "reset", null);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) swarm.send("sink", "item", payload);
  // The count comes back behind the events on the same link (FIFO per pair).
  const counted = await swarm.request("sink", "count", null);
  const rate = n / ((performance.now() - t0) / 1000);
  if (counted !== n) throw new Error(`the sink counted ${counted} of ${n}`);
  return rate;
}

function workerFloors(n) {
  const source = `
    onmessage = async (e) => {
      if (e.data.waitAsync) {
        const flag = new Int32Array(e.data.waitAsync);
        for (let i = 0; i < e.data.n; i++) {
          const r = Atomics.waitAsync(flag, 0, 0);
          if (r.async) await r.value;
          Atomics.store(flag, 0, 0); Atomics.store(flag, 1, 1); Atomics.notify(flag, 1);
        }
      } else if (e.data.sab) {
        const flag = new Int32Array(e.data.sab);
        for (let i = 0; i < e.data.n; i++) {
          Atomics.wait(flag, 0, 0); Atomics.store(flag, 0, 0); Atomics.store(flag, 1, 1); Atomics.notify(flag, 1);
        }
      } else { postMessage(e.data, [e.data]); }
    };`;
  const w = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
  return new Promise(async (resolve) => {
    let t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const buffer = new Uint8Array(64).buffer;
      await new Promise((r) => { w.onmessage = r; w.postMessage(buffer, [buffer]); });
    }
    const postMessageUs = (performance.now() - t0) * 1000 / n;
    let sabUs = null;
    if (self.crossOriginIsolated) {
      const sab = new SharedArrayBuffer(8);
      const flag = new Int32Array(sab);
      w.postMessage({ sab, n });
      t0 = performance.now();
      for (let i = 0; i < n; i++) {
        Atomics.store(flag, 0, 1); Atomics.notify(flag, 0);
        // The page may not block: it spins on the answer (Atomics.waitAsync is the polite form).
        while (Atomics.load(flag, 1) === 0) {}
        Atomics.store(flag, 1, 0);
      }
      sabUs = (performance.now() - t0) * 1000 / n;
    }
    // Both sides asleep in Atomics.waitAsync between messages, as swarm-web's rings are.
    let waitAsyncUs = null;
    if (self.crossOriginIsolated) {
      const shared = new SharedArrayBuffer(8);
      const flag = new Int32Array(shared);
      w.postMessage({ waitAsync: shared, n });
      await new Promise((r) => setTimeout(r, 50));
      t0 = performance.now();
      for (let i = 0; i < n; i++) {
        Atomics.store(flag, 0, 1); Atomics.notify(flag, 0);
        const r = Atomics.waitAsync(flag, 1, 0);
        if (r.async) await r.value;
        Atomics.store(flag, 1, 0);
      }
      waitAsyncUs = (performance.now() - t0) * 1000 / n;
    }
    w.terminate();
    resolve({ postMessageUs, sabUs, waitAsyncUs });
  });
}

try {
  const socket = await rawSocket();
  await rawRoundTrips(socket, 200);
  await swarmRoundTrips(200);
  const result = { n: N, format: query.get("format") || "msgpack", isolated: self.crossOriginIsolated };
  result.rawRoundTripUs = await rawRoundTrips(socket, N);
  result.swarmRoundTripUs = await swarmRoundTrips(N);
  result.rawPipelinedPerS = await rawPipelined(socket, N);
  result.swarmPipelinedPerS = await swarmPipelined(N);
  result.swarmOneWayPerS = await swarmOneWay(N * 10);
  Object.assign(result, await workerFloors(N));
  console.log("RESULT " + JSON.stringify(result));
} catch (e) {
  console.log("BENCHERROR " + e.message);
}
