// What a hostile page can send the node over a raw WebSocket (no swarm-web in the way):
// each case opens a socket of its own and reports the close code the node answered with.
const MSGPACK = "swarm.v1.msgpack";
const JSON_PROTOCOL = "swarm.v1.json";

function once(url, protocol, send) {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, protocol);
    socket.binaryType = "arraybuffer";
    const timer = setTimeout(() => { socket.close(); resolve({ code: "no close", clean: false }); }, 15000);
    socket.onopen = () => send(socket);
    socket.onclose = (event) => { clearTimeout(timer); resolve({ code: event.code, reason: event.reason }); };
  });
}

export async function hostile(url) {
  const out = {};
  // A header byte no version defines.
  out.badHeader = await once(url, MSGPACK, (s) => s.send(new Uint8Array([0xff, 1, 2, 3])));
  // A valid header byte, then a body that is not MessagePack.
  out.badBody = await once(url, MSGPACK, (s) => s.send(new Uint8Array([0x00, 0xc1, 0xc1, 0xc1])));
  // Past the node's size limit (10 MiB by default).
  out.tooLarge = await once(url, MSGPACK, (s) => s.send(new Uint8Array(11 * 1024 * 1024)));
  // Text that is not JSON on the JSON subprotocol.
  out.badJson = await once(url, JSON_PROTOCOL, (s) => s.send("{not json"));
  // A data message before any Hello.
  out.noHello = await once(url, JSON_PROTOCOL, (s) => s.send(JSON.stringify({
    id: "00000000000000000000000000000001", source: "x", destination: "y",
    payload: { event: { name: "e", data: null } },
  })));
  return out;
}
