#!/usr/bin/env python3
"""A small HTTP/1.1 server on 127.0.0.1 for the HTTP queue's tests.

    http_server.py --port-file FILE --log FILE [--port N] [--tls-cert F --tls-key F]

Writes its port to --port-file once it listens, and one JSON line per
request to --log (time, method, path, headers, body, Idempotency-Key, how
many requests were in progress at arrival, connection number). Keep-alive,
many connections at once. What it answers depends on the path:

    /ok...                    200 {"ok": true}
    /echo...                  200, the request as JSON
    /status/CODE...           CODE, every time
    /fail/N/CODE...           CODE for the first N attempts of an Idempotency-Key, then 200
    /retry-after/SECS...      429 with Retry-After: SECS on the first attempt of a key, then 200
    /sleep/MS...              200 after MS milliseconds
    /big/BYTES...             200 with a body of BYTES bytes
    /instantly/...            a stand-in for Instantly: 200 {"status": "success", "leads_uploaded": N}
    /vapi/call                a stand-in for VAPI: 201 {"id": <uuid>, "status": "queued"}
    /hook/...                 a stand-in for a broker's webhook: 200 {"received": true}

Stops on SIGTERM or SIGINT.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import time
import uuid

attempts = {}
in_progress = 0
connections = 0
log = None


def route(method, path, headers, body):
    """(status, extra headers, body bytes, delay seconds)"""
    parts = [p for p in path.split("?")[0].split("/") if p]
    key = headers.get("idempotency-key", "")
    head = parts[0] if parts else ""
    if head == "ok":
        return 200, {}, b'{"ok": true}', 0
    if head == "echo":
        return 200, {}, json.dumps({"method": method, "path": path, "headers": headers,
                                    "body": body.decode("utf-8", "replace")}).encode(), 0
    if head == "status" and len(parts) >= 2:
        return int(parts[1]), {}, b'{"status": "as asked"}', 0
    if head == "fail" and len(parts) >= 3:
        n = attempts.get((path, key), 0) + 1
        attempts[(path, key)] = n
        if n <= int(parts[1]):
            return int(parts[2]), {}, b'{"failed": true}', 0
        return 200, {}, b'{"ok": true}', 0
    if head == "retry-after" and len(parts) >= 2:
        n = attempts.get((path, key), 0) + 1
        attempts[(path, key)] = n
        if n == 1:
            return 429, {"Retry-After": parts[1]}, b'{"slow": "down"}', 0
        return 200, {}, b'{"ok": true}', 0
    if head == "sleep" and len(parts) >= 2:
        return 200, {}, b'{"slept": true}', int(parts[1]) / 1000.0
    if head == "big" and len(parts) >= 2:
        return 200, {}, b"x" * int(parts[1]), 0
    if head == "instantly":
        try:
            n = len(json.loads(body or b"{}").get("leads", []))
        except ValueError:
            return 400, {}, b'{"error": "invalid json"}', 0
        return 200, {}, json.dumps({"status": "success", "leads_uploaded": n}).encode(), 0
    if head == "vapi":
        return 201, {}, json.dumps({"id": str(uuid.uuid4()), "status": "queued"}).encode(), 0
    if head == "hook":
        return 200, {}, b'{"received": true}', 0
    return 404, {}, b'{"error": "no such path"}', 0


REASONS = {200: "OK", 201: "Created", 404: "Not Found", 408: "Request Timeout", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


async def handle(reader, writer):
    global in_progress, connections
    connections += 1
    conn = connections
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                method, path, _version = line.decode("latin-1").split()
            except ValueError:
                break
            headers = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(n) if n else b""
            in_progress += 1
            try:
                log.write(json.dumps({
                    "t": time.time(), "method": method, "path": path, "headers": headers,
                    "body": body.decode("utf-8", "replace"), "key": headers.get("idempotency-key"),
                    "in_progress": in_progress, "conn": conn}) + "\n")
                log.flush()
                status, extra, payload, delay = route(method, path, headers, body)
                if delay:
                    await asyncio.sleep(delay)
            finally:
                in_progress -= 1
            head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (
                status, REASONS.get(status, "Status"), len(payload))
            for k, v in extra.items():
                head += "%s: %s\r\n" % (k, v)
            head += "\r\n"
            writer.write(head.encode("latin-1") + (payload if method != "HEAD" else b""))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        writer.close()


async def main():
    global log
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pid-file")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    log = open(args.log, "a")
    tls = None
    if args.tls_cert:
        import ssl
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    server = await asyncio.start_server(handle, "127.0.0.1", args.port, backlog=1024, limit=1 << 20, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
