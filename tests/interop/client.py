"""A swarm peer in Python, written from docs/PROTOCOL.md (not from the Rust code).

Usage: python client.py ws://127.0.0.1:PORT/swarm

Against a node hosting an agent `echo` (answers requests with their params), it:
  1. connects with subprotocol swarm.v1.msgpack, sends Hello, expects HelloAck;
  2. subscribes to the topic `ticks` (a peer that never subscribes gets no broadcast), then
     announces an agent `py-agent` and answers every request addressed to it with its params;
  3. sends a request to `echo` and checks the response (correlation id and result);
  4. waits for a request from the Rust side (to py-agent) and for a broadcast on `ticks`;
  5. repeats a request over swarm.v1.json (text frames, bytes as {"$bytes": base64}).
Heartbeat probes are echoed. Prints one line per step; exits 0 when every step passed.
"""

import asyncio
import base64
import json
import sys
import time
import uuid

import msgpack
import websockets

VERSION = {"major": 1, "minor": 0}


def message(source, payload, destination=None):
    return {
        "id": uuid.uuid4().hex,
        "source": source,
        "destination": destination,
        "timestamp": int(time.time() * 1000),
        "version": VERSION,
        "payload": payload,
        "headers": {},
        "priority": 128,
        "ttl": None,
    }


def encode_msgpack(msg):
    # One header byte (0 = not compressed), then the MessagePack map.
    return b"\x00" + msgpack.packb(msg, use_bin_type=True)


def decode_msgpack(frame):
    header, body = frame[0], frame[1:]
    if header != 0:
        raise ValueError(f"unexpected header byte {header:#x} (compression was not offered)")
    return msgpack.unpackb(body, raw=False)


def control(msg):
    return msg["payload"].get("control", {}).get("operation", {})


class Peer:
    def __init__(self, ws, encode, decode, name):
        self.ws, self.encode, self.decode, self.name = ws, encode, decode, name
        self.waiting = {}
        self.seen_request = asyncio.Event()
        self.seen_tick = asyncio.Event()

    async def send(self, msg):
        await self.ws.send(self.encode(msg))

    async def handshake(self):
        hello = message(self.name, {"control": {"operation": {"hello": {
            "version": VERSION, "capabilities": [], "metadata": {"node": self.name}}}}})
        await self.send(hello)
        reply = self.decode(await asyncio.wait_for(self.ws.recv(), 10))
        ack = control(reply).get("hello_ack")
        assert ack is not None, f"expected hello_ack, got {reply['payload']}"
        assert ack["version"]["major"] == 1, ack
        print(f"handshake ok: peer node {ack['metadata'].get('node')}, version {ack['version']}")

    async def pump(self):
        async for frame in self.ws:
            msg = self.decode(frame)
            payload = msg["payload"]
            if "heartbeat" in payload and not payload["heartbeat"].get("echo"):
                hb = dict(payload["heartbeat"], echo=True)
                await self.send(message(self.name, {"heartbeat": hb}))
            elif "response" in payload:
                fut = self.waiting.pop(payload["response"]["correlation_id"], None)
                if fut is not None:
                    fut.set_result(payload["response"]["result"])
            elif "request" in payload and msg["destination"] == "py-agent":
                reply = message("py-agent", {"response": {
                    "correlation_id": msg["id"],
                    "result": {"Ok": payload["request"]["params"]}}}, destination=msg["source"])
                await self.send(reply)
                self.seen_request.set()
            elif "broadcast" in payload and payload["broadcast"]["topic"] == "ticks":
                self.seen_tick.set()

    async def request(self, to, method, params):
        msg = message(self.name, {"request": {"method": method, "params": params}}, destination=to)
        fut = asyncio.get_running_loop().create_future()
        self.waiting[msg["id"]] = fut
        await self.send(msg)
        return await asyncio.wait_for(fut, 10)


async def msgpack_session(url):
    async with websockets.connect(url, subprotocols=["swarm.v1.msgpack"]) as ws:
        assert ws.subprotocol == "swarm.v1.msgpack", ws.subprotocol
        peer = Peer(ws, encode_msgpack, decode_msgpack, "py-node")
        await peer.handshake()
        pump = asyncio.create_task(peer.pump())
        # Interest first: once the node sees py-agent, it knows what py-node listens to.
        await peer.send(message("py-node", {"control": {"operation": {"subscribe": {"topics": ["ticks"]}}}}))
        print("subscribed to ticks")
        await peer.send(message("py-node", {"control": {"operation": {"announce": {"agents": ["py-agent"]}}}}))
        print("announced py-agent")
        params = {"n": 42, "blob": b"\x00\x01\xfe\xff", "list": [1, 2.5, None, True, "x"]}
        result = await peer.request("echo", "echo", params)
        assert result == {"Ok": params}, result
        print("request to echo (msgpack): ok, bytes came back as bin")
        unknown = await peer.request("nobody", "x", None)
        assert "Err" in unknown and unknown["Err"]["code"] == -32001, unknown
        print("request to an unknown agent: error -32001")
        await asyncio.wait_for(peer.seen_request.wait(), 20)
        print("answered a request from the Rust side")
        await asyncio.wait_for(peer.seen_tick.wait(), 20)
        print("received the broadcast on ticks")
        pump.cancel()


async def json_session(url):
    def encode(msg):
        return json.dumps(msg)

    def decode(frame):
        assert isinstance(frame, str), "JSON travels in text frames"
        return json.loads(frame)

    async with websockets.connect(url, subprotocols=["swarm.v1.json"]) as ws:
        assert ws.subprotocol == "swarm.v1.json", ws.subprotocol
        peer = Peer(ws, encode, decode, "py-json")
        await peer.handshake()
        pump = asyncio.create_task(peer.pump())
        blob = {"$bytes": base64.b64encode(b"\x00\x01\xfe\xff").decode()}
        result = await peer.request("echo", "echo", {"text": "hé", "blob": blob})
        assert result == {"Ok": {"text": "hé", "blob": blob}}, result
        print("request to echo (json): ok")
        pump.cancel()


async def main(url):
    await msgpack_session(url)
    await json_session(url)
    print("interop: all steps passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
