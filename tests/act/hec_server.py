#!/usr/bin/env python3
"""A Splunk HTTP Event Collector stand-in for tests, on 127.0.0.1.

Serves /services/collector/event (with indexer acknowledgement) and /services/collector/ack,
and can misbehave on purpose. Each POST to the event endpoint takes the next behaviour from the
plan (then "ok" once the plan is used up):

  ok           index the batch, answer {"text":"Success","code":0,"ackId":N}
  503          answer 503 Server is busy; nothing indexed
  stall        read the batch, then hang past the client's timeout and close; nothing indexed
  drop_before  close the connection without reading the batch; nothing indexed
  drop_after   read and index the batch, then close without answering (the response is lost)
  ack_late     index, and answer the first ack query for it with false
  noack        index and answer with an ackId that is never acknowledged
  slow         wait --stall seconds, then as ok (within a client's timeout if --stall is short)
  400          answer 400 Invalid data format; nothing indexed (the batch is refused for good)
  403          answer 403 Invalid token; nothing indexed

--ack never makes every ackId stay false (a HEC whose acknowledgements never come).
--lifetime SECONDS: the server stops by itself after that long (default 600), so a test that
dies cannot leave it running.

Control (JSON): GET /_events -> {"events": [event_id, ...] (every indexed copy, in order),
"lost": [event_id, ...] (events of batches whose response was lost), "requests": N,
"channels": [...], "posts": [[first event_id, events], ...] (every batch body read, in order)};
POST /_plan with a JSON list replaces the plan (with {"plan": [...], "ack": "normal"|"never"}
the plan and the ack mode).

Usage: hec_server.py [--port N] [--token T] [--plan ok,503,...] [--stall SECONDS]
                     [--ack normal|never] [--lifetime SECONDS] [--tls CERT.pem KEY.pem]
Prints "port N" on stdout once listening.
"""
import argparse
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"plan": [], "events": [], "lost": [], "requests": 0, "next_ack": 1, "acks": {},
         "late": set(), "never": set(), "channels": set(), "posts": []}
opts = None


def take():
    with lock:
        state["requests"] += 1
        return state["plan"].pop(0) if state["plan"] else "ok"


def note_post(body):
    ids = [json.loads(l)["event"]["event_id"] for l in body.decode("utf-8").splitlines()
           if l.strip()]
    with lock:
        state["posts"].append([ids[0] if ids else "", len(ids)])


def index(body, lost=False):
    ids = []
    for line in body.decode("utf-8").splitlines():
        if not line.strip():
            continue
        env = json.loads(line)
        ids.append(env["event"]["event_id"])
    with lock:
        state["events"].extend(ids)
        if lost:
            state["lost"].extend(ids)
        ack = state["next_ack"]
        state["next_ack"] += 1
        state["acks"][ack] = True
    return ack


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def hang_up(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        if self.path == "/_events":
            with lock:
                self.reply(200, {"events": state["events"], "lost": state["lost"],
                                 "requests": state["requests"],
                                 "channels": sorted(state["channels"]),
                                 "posts": state["posts"]})
        else:
            self.reply(404, {"text": "not found"})

    def do_POST(self):
        if self.path == "/_plan":
            plan = json.loads(self.body())
            with lock:
                if isinstance(plan, dict):  # {"plan": [...], "ack": "normal"|"never"}
                    opts.ack = plan.get("ack", opts.ack)
                    plan = plan.get("plan", [])
                state["plan"] = list(plan)
            self.reply(200, {"ok": True})
            return
        if self.headers.get("Authorization") != "Splunk " + opts.token:
            self.body()
            self.reply(401, {"text": "Invalid token", "code": 4})
            return
        channel = self.headers.get("X-Splunk-Request-Channel")
        if not channel:
            self.body()
            self.reply(400, {"text": "Data channel is missing", "code": 10})
            return
        with lock:
            state["channels"].add(channel)
        if self.path == "/services/collector/ack":
            q = json.loads(self.body())
            out = {}
            with lock:
                for a in q.get("acks", []):
                    if a in state["late"]:
                        state["late"].discard(a)
                        out[str(a)] = False
                    elif a in state["never"] or opts.ack == "never":
                        out[str(a)] = False
                    else:
                        out[str(a)] = bool(state["acks"].get(a))
            self.reply(200, {"acks": out})
            return
        if self.path != "/services/collector/event":
            self.body()
            self.reply(404, {"text": "not found"})
            return
        mode = take()
        if mode == "drop_before":
            self.hang_up()
            return
        body = self.body()
        note_post(body)
        if mode == "slow":
            time.sleep(opts.stall)
        if mode == "503":
            self.reply(503, {"text": "Server is busy", "code": 9})
        elif mode == "400":
            self.reply(400, {"text": "Invalid data format", "code": 6})
        elif mode == "403":
            self.reply(403, {"text": "Invalid token", "code": 4})
        elif mode == "stall":
            time.sleep(opts.stall)
            self.hang_up()
        elif mode == "drop_after":
            index(body, lost=True)
            self.hang_up()
        else:
            ack = index(body)
            if mode == "ack_late":
                with lock:
                    state["late"].add(ack)
            elif mode == "noack":
                with lock:
                    state["never"].add(ack)
            self.reply(200, {"text": "Success", "code": 0, "ackId": ack})


def main():
    global opts
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default="test-token")
    p.add_argument("--plan", default="")
    p.add_argument("--stall", type=float, default=3.0)
    p.add_argument("--ack", choices=["normal", "never"], default="normal")
    p.add_argument("--lifetime", type=float, default=600.0)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    opts = p.parse_args()
    state["plan"] = [m for m in opts.plan.split(",") if m]
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", opts.port), Handler)
    if opts.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.tls[0], opts.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("port %d" % srv.server_address[1], flush=True)
    stopper = threading.Timer(opts.lifetime, srv.shutdown)
    stopper.daemon = True
    stopper.start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
