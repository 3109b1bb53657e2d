"""The kernel applications of ``mip6fast demo``, run as ``python -m mip6fast.demo_apps KIND ...``
inside a namespace (``ip netns exec``): ordinary sockets, nothing of the engine, so what they see is
what any application on the correspondent or the mobile node would see.

``ping DST SECONDS INTERVAL``   ICMPv6 echo requests every INTERVAL s (a raw socket, the kernel fills
                                in the checksum); prints one JSON object: per sequence number the send
                                time and the reply time (CLOCK_MONOTONIC, shared by all namespaces).
``tcp-sink ADDRESS PORT``       accepts one TCP connection, counts the bytes until EOF, answers with
                                the count, prints JSON.
``tcp-send DST PORT SECONDS RATE``  connects, sends RATE bytes/s for SECONDS, half-closes, reads the
                                sink's count, prints JSON (``survived``: the connection never broke
                                and the sink received every byte sent).
"""
from __future__ import annotations

import json
import socket
import sys
import threading
import time

ECHO_ID = 0x6d36


def ping(dst: str, seconds: float, interval: float) -> dict:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.settimeout(0.2)
    sent: dict[int, float] = {}
    answered: dict[int, float] = {}
    end = time.monotonic() + seconds
    stop = threading.Event()

    def receive():
        while not stop.is_set():
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) >= 8 and data[0] == 129 and int.from_bytes(data[4:6], "big") == ECHO_ID:
                seq = int.from_bytes(data[6:8], "big")
                answered.setdefault(seq, time.monotonic())

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    seq = 0
    next_at = time.monotonic()
    while next_at < end:
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        payload = (bytes([128, 0, 0, 0]) + ECHO_ID.to_bytes(2, "big") + (seq & 0xFFFF).to_bytes(2, "big")
                   + b"mip6fast demo")
        try:
            s.sendto(payload, (dst, 0))
            sent[seq] = time.monotonic()
        except OSError:
            sent[seq] = time.monotonic()       # counted as sent and lost (no route for a moment)
        seq += 1
        next_at += interval
    time.sleep(1.0)                            # the last replies
    stop.set()
    t.join(1)
    return {"sent": sent, "answered": answered}


def tcp_sink(address: str, port: int) -> dict:
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((address, port))
    srv.listen(1)
    print("listening", flush=True)
    conn, peer = srv.accept()
    received = 0
    error = None
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            received += len(data)
        conn.sendall(f"{received}\n".encode())
    except OSError as exc:
        error = str(exc)
    conn.close()
    return {"received": received, "peer": peer[0], "error": error}


def tcp_send(dst: str, port: int, seconds: float, rate: int) -> dict:
    chunk = b"m" * max(1, rate // 50)
    sent = 0
    error = None
    reported = None
    start = time.monotonic()
    try:
        s = socket.create_connection((dst, port), timeout=30)
        s.settimeout(30)                       # a handover gap stalls send(), it must not end it
        next_at = start
        while time.monotonic() - start < seconds:
            s.sendall(chunk)
            sent += len(chunk)
            next_at += 0.02
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        s.shutdown(socket.SHUT_WR)
        reply = s.makefile("rb").readline()
        reported = int(reply) if reply.strip() else None
        s.close()
    except (OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return {"sent": sent, "sink_received": reported, "error": error,
            "survived": error is None and reported == sent, "seconds": time.monotonic() - start}


def main(argv: list[str]) -> int:
    kind, args = argv[0], argv[1:]
    if kind == "ping":
        result = ping(args[0], float(args[1]), float(args[2]))
    elif kind == "tcp-sink":
        result = tcp_sink(args[0], int(args[1]))
    elif kind == "tcp-send":
        result = tcp_send(args[0], int(args[1]), float(args[2]), int(args[3]))
    else:
        print(f"unknown application {kind!r}", file=sys.stderr)
        return 2
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
