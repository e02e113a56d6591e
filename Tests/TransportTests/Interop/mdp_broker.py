#!/usr/bin/env python3
"""A minimal third-party 18/MDP broker (pyzmq) that hands one REQUEST to the first worker.

Written from docs/protocol.md only, to check that the Swift worker interoperates with a conforming
broker. Every frame the worker sends is checked against the 18/MDP worker table.

Usage: mdp_broker.py --request FILE --endpoint-file FILE [--timeout S] [--heartbeat-ms MS]
Writes the bound endpoint to --endpoint-file, then prints one JSON line to stdout:
{"worker": ..., "partials": N, "heartbeats": N, "final": <EvaluationOutcome>}
Exit status 0 on success, 2 on timeout, 3 on a protocol error.
"""
import argparse
import json
import os
import sys
import time

import zmq

HEADER = b"MDPW02"
READY, REQUEST, PARTIAL, FINAL, HEARTBEAT, DISCONNECT = (bytes([c]) for c in range(1, 7))
CLIENT = b"python-client-7"


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(3)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--request", required=True)
    parser.add_argument("--endpoint-file", required=True)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--heartbeat-ms", type=int, default=1000)
    args = parser.parse_args()
    with open(args.request, "rb") as f:
        body = f.read()

    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    router.bind("tcp://127.0.0.1:*")
    endpoint = router.getsockopt(zmq.LAST_ENDPOINT).decode()
    temporary = args.endpoint_file + ".tmp"
    with open(temporary, "w") as f:
        f.write(endpoint)
    os.replace(temporary, args.endpoint_file)

    interval = args.heartbeat_ms / 1000.0
    deadline = time.monotonic() + args.timeout
    worker = None
    partials = heartbeats = 0
    last_sent = time.monotonic()
    final = None
    while final is None:
        if time.monotonic() > deadline:
            print("timeout", file=sys.stderr)
            return 2
        if router.poll(int(interval * 250)):
            frames = router.recv_multipart()
            identity, message = frames[0], frames[1:]
            if len(message) < 2 or message[0] != HEADER or len(message[1]) != 1:
                fail(f"not 18/MDP worker frames: {message!r}")
            command = message[1]
            if worker is None:
                if command != READY or len(message) != 3 or message[2] != b"spikeq.evaluate":
                    fail(f"first command must be READY spikeq.evaluate: {message!r}")
                worker = identity
                router.send_multipart([worker, HEADER, REQUEST, CLIENT, b"", body])
                last_sent = time.monotonic()
                continue
            if identity != worker:
                continue
            if command == HEARTBEAT:
                if len(message) != 2:
                    fail(f"HEARTBEAT has 2 frames: {message!r}")
                heartbeats += 1
            elif command in (PARTIAL, FINAL):
                if len(message) != 5 or message[2] != CLIENT or message[3] != b"":
                    fail(f"{command!r} must echo the client address and an empty delimiter: {message!r}")
                if command == PARTIAL:
                    json.loads(message[4])
                    partials += 1
                else:
                    final = json.loads(message[4])
            elif command == READY:
                # A worker that reconnected on a new socket; it keeps its routing id.
                pass
            else:
                fail(f"unexpected worker command {command!r}")
        if worker is not None and time.monotonic() - last_sent >= interval:
            router.send_multipart([worker, HEADER, HEARTBEAT])
            last_sent = time.monotonic()
    router.send_multipart([worker, HEADER, DISCONNECT])
    time.sleep(0.1)
    print(json.dumps({"worker": worker.decode(errors="replace"), "partials": partials,
                      "heartbeats": heartbeats, "final": final}))
    router.close()
    context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
