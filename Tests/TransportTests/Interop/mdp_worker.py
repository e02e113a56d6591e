#!/usr/bin/env python3
"""A minimal third-party 18/MDP worker (pyzmq) for SpikeQuant's `spikeq.evaluate` service.

Written from docs/protocol.md only, to check that a conforming worker interoperates with the Swift
broker: READY, heartbeats, REQUEST -> PARTIAL + FINAL with an EvaluationOutcome JSON body, DISCONNECT.

Usage: mdp_worker.py ENDPOINT [--requests N] [--timeout S] [--heartbeat-ms MS]
                              [--curve-server-key FILE --curve-keys FILE]
Exit status 0 after serving N requests, 2 on timeout, 3 on a protocol error.
"""
import argparse
import hashlib
import json
import sys
import time

import zmq
import zmq.auth

HEADER = b"MDPW02"
READY, REQUEST, PARTIAL, FINAL, HEARTBEAT, DISCONNECT = (bytes([c]) for c in range(1, 7))
SERVICE = b"spikeq.evaluate"


def canonical_hash(config):
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def fake_result(request):
    config = request["config"]
    layers = sorted(config["layers"].items())
    bits = [choice["bits"] for _, choice in layers] or [32]
    mean = sum(bits) / len(bits)
    return {
        "configHash": canonical_hash(config),
        "config": config,
        "accuracy": {"validation": 0.5},
        "averageBits": mean,
        "compression": 32 / mean,
        "packedBytes": sum(bits) * 128,
        "energy": {"python": {"picojoules": 1000 * mean, "reduction": 32 / mean}},
        "layers": [
            {"name": name, "quantization": choice, "parameters": 1024, "inputFiringRate": 0.5,
             "spikingInput": True, "macs": 1024.0, "sops": 512.0, "energy": {"python": 1.0}}
            for name, choice in layers
        ],
        "reference": {"accuracy": {"validation": 0.9}, "energy": {"python": 32000.0}, "bytes": 4096},
        "fineTune": {"epochs": request["budget"]["epochs"], "steps": 0, "finalLoss": None, "seconds": 0.0},
        "wallSeconds": 0.01,
        "datasetFingerprint": request["dataset"]["fingerprint"],
        "checkpointHash": request["baseCheckpoint"]["sha256"],
        "toolVersion": "python-interop-worker",
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("--requests", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--heartbeat-ms", type=int, default=1000)
    parser.add_argument("--identity", default="py-worker")
    parser.add_argument("--curve-server-key")
    parser.add_argument("--curve-keys")
    args = parser.parse_args()

    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    socket.setsockopt(zmq.ROUTING_ID, args.identity.encode())
    if args.curve_keys:
        public, secret = zmq.auth.load_certificate(args.curve_keys)
        server_public, _ = zmq.auth.load_certificate(args.curve_server_key)
        socket.curve_publickey, socket.curve_secretkey, socket.curve_serverkey = public, secret, server_public
    socket.connect(args.endpoint)
    socket.send_multipart([HEADER, READY, SERVICE])

    interval = args.heartbeat_ms / 1000.0
    deadline = time.monotonic() + args.timeout
    last_sent = time.monotonic()
    served = 0
    while served < args.requests:
        if time.monotonic() > deadline:
            print("timeout", file=sys.stderr)
            return 2
        if socket.poll(int(interval * 250)):
            frames = socket.recv_multipart()
            if len(frames) < 2 or frames[0] != HEADER:
                print(f"bad frames from broker: {frames!r}", file=sys.stderr)
                return 3
            command = frames[1]
            if command == HEARTBEAT and len(frames) == 2:
                pass
            elif command == DISCONNECT and len(frames) == 2:
                print("broker sent DISCONNECT", file=sys.stderr)
                return 3
            elif command == REQUEST and len(frames) >= 5 and frames[3] == b"":
                client, body = frames[2], frames[4]
                request = json.loads(body)
                assert request["schema"] == "spikeq.evaluate/1", request["schema"]
                progress = {"candidateId": request["candidateId"], "attempt": request["attempt"], "phase": "finetune",
                            "epoch": 1, "epochs": 1, "step": 1, "steps": 1, "loss": 0.5, "accuracy": None}
                socket.send_multipart([HEADER, PARTIAL, client, b"", json.dumps(progress).encode()])
                outcome = {"candidateId": request["candidateId"], "attempt": request["attempt"],
                           "result": fake_result(request), "error": None, "worker": args.identity}
                socket.send_multipart([HEADER, FINAL, client, b"", json.dumps(outcome).encode()])
                last_sent = time.monotonic()
                served += 1
            else:
                print(f"unexpected command from broker: {frames!r}", file=sys.stderr)
                return 3
        if time.monotonic() - last_sent >= interval:
            socket.send_multipart([HEADER, HEARTBEAT])
            last_sent = time.monotonic()
    # Let the FINAL leave before saying goodbye.
    time.sleep(0.2)
    socket.send_multipart([HEADER, DISCONNECT])
    time.sleep(0.1)
    socket.close()
    context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
