#!/usr/bin/env python3
"""majortomo (the MDP/0.2 library on PyPI) as a real third-party peer of SpikeQuant, in three roles.

majortomo frames every command with a leading empty frame and numbers client commands like worker
ones; SpikeQuant's broker accepts that framing and answers in it (docs/protocol.md).

  majortomo_peer.py client ENDPOINT --sha256 HEX --out FILE
      A majortomo Client fetches the file from `spikeq.artifact` chunk by chunk, writes it to FILE and
      prints {"bytes": N, "sha256": HEX, "chunks": N}.
  majortomo_peer.py worker ENDPOINT [--requests N] [--identity ID]
      A majortomo Worker serves `spikeq.evaluate` with a valid (fake, labelled) result, then exits 0.
  majortomo_peer.py broker --request FILE --endpoint-file FILE
      A majortomo Broker (in a thread) and a majortomo Client sending the request in FILE to
      `spikeq.evaluate`; prints {"partials": N, "final": <EvaluationOutcome>} once a worker answered.

Exit status 0 on success, 2 on timeout, 3 on a protocol or content error.
"""
import argparse
import hashlib
import json
import os
import sys
import threading

import zmq
from majortomo.broker import Broker
from majortomo.client import Client
from majortomo.worker import Worker
from majortomo import error as mdp_error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdp_worker import fake_result  # noqa: E402  (the same valid result the pyzmq worker returns)


def fetch(args):
    digest = hashlib.sha256()
    offset, total, chunks = 0, None, 0
    with Client(args.endpoint) as client, open(args.out, "wb") as out:
        while total is None or offset < total:
            request = {"schema": "spikeq.artifact/1", "sha256": args.sha256, "offset": offset, "length": args.chunk}
            client.send(b"spikeq.artifact", json.dumps(request).encode())
            frames = client.recv_all_as_list(timeout=args.timeout)
            header = json.loads(frames[0])
            if header.get("error"):
                print(f"artifact service refused: {header['error']}", file=sys.stderr)
                return 3
            if len(frames) != 2 or len(frames[1]) != header["length"] or header["offset"] != offset:
                print(f"reply does not match the request: {header}", file=sys.stderr)
                return 3
            total = header["totalBytes"]
            out.write(frames[1])
            digest.update(frames[1])
            offset += len(frames[1])
            chunks += 1
    print(json.dumps({"bytes": offset, "sha256": digest.hexdigest(), "chunks": chunks}))
    return 0


def serve(args):
    worker = Worker(args.endpoint, b"spikeq.evaluate", heartbeat_interval=0.2, heartbeat_timeout=args.timeout)
    served = 0
    with worker:
        while served < args.requests:
            client, body = worker.wait_for_request()
            request = json.loads(body[0])
            progress = {"candidateId": request["candidateId"], "attempt": request["attempt"], "phase": "finetune",
                        "epoch": 1, "epochs": 1, "step": 1, "steps": 1, "loss": 0.25, "accuracy": None}
            worker.send_reply_partial(client, [json.dumps(progress).encode()])
            outcome = {"candidateId": request["candidateId"], "attempt": request["attempt"],
                       "result": fake_result(request), "error": None, "worker": args.identity}
            worker.send_reply_final(client, [json.dumps(outcome).encode()])
            served += 1
    return 0


class LoopbackBroker(Broker):
    """majortomo's broker on a free loopback port, bound by the socket itself (no probe-then-bind race)."""

    def __init__(self, **kwargs):
        super().__init__(bind="tcp://127.0.0.1:0", **kwargs)
        self.bound = threading.Event()
        self.endpoint = None

    def bind(self):
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.rcvtimeo = int(self._heartbeat_interval * 1000)
        port = self._socket.bind_to_random_port("tcp://127.0.0.1")
        self._bind_url = self.endpoint = f"tcp://127.0.0.1:{port}"
        self.bound.set()


def broker_and_client(args):
    with open(args.request, "rb") as f:
        body = f.read()
    broker = LoopbackBroker(heartbeat_interval=0.2, heartbeat_timeout=args.timeout)
    thread = threading.Thread(target=broker.run, daemon=True)
    thread.start()
    if not broker.bound.wait(args.timeout):
        print("timeout: the broker did not bind", file=sys.stderr)
        return 2
    endpoint = broker.endpoint
    temporary = args.endpoint_file + ".tmp"
    with open(temporary, "w") as f:
        f.write(endpoint)
    os.replace(temporary, args.endpoint_file)
    partials = []
    with Client(endpoint) as client:
        client.send(b"spikeq.evaluate", body)
        # majortomo queues the request until a worker of the service is READY.
        for part in client.recv_all(timeout=args.timeout):
            partials.append(part)
    broker.stop()
    final = partials.pop()
    print(json.dumps({"partials": len(partials), "final": json.loads(final[0])}))
    return 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    client = sub.add_parser("client")
    client.add_argument("endpoint")
    client.add_argument("--sha256", required=True)
    client.add_argument("--out", required=True)
    client.add_argument("--chunk", type=int, default=1 << 16)
    worker = sub.add_parser("worker")
    worker.add_argument("endpoint")
    worker.add_argument("--requests", type=int, default=1)
    worker.add_argument("--identity", default="majortomo-worker")
    broker = sub.add_parser("broker")
    broker.add_argument("--request", required=True)
    broker.add_argument("--endpoint-file", required=True)
    for p in (client, worker, broker):
        p.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    try:
        return {"client": fetch, "worker": serve, "broker": broker_and_client}[args.role](args)
    except mdp_error.Timeout:
        print("timeout", file=sys.stderr)
        return 2
    except mdp_error.ProtocolError as e:
        print(f"protocol error: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
