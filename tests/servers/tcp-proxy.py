#!/usr/bin/env python3
"""A TCP proxy for partition tests: forwards 127.0.0.1:PORT to TARGET_HOST:TARGET_PORT.

    tcp-proxy.py PORT TARGET_HOST TARGET_PORT      (PORT 0: a free one)

Prints `PORT=<port>` on stdout once it listens. SIGUSR1 cuts the link: every open connection is closed and new
ones are closed at once (the client sees the peer gone, as across a partition that resets connections);
SIGUSR2 heals it. SIGTERM stops the proxy. Python 3 standard library only.
"""
import signal
import socket
import sys
import threading

cut = threading.Event()
lock = threading.Lock()
open_sockets = set()


def close_all():
    with lock:
        for s in list(open_sockets):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        open_sockets.clear()


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client, target):
    if cut.is_set():
        client.close()
        return
    try:
        upstream = socket.create_connection(target, timeout=5)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    with lock:
        open_sockets.update((client, upstream))
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: tcp-proxy.py PORT TARGET_HOST TARGET_PORT")
    port, target = int(sys.argv[1]), (sys.argv[2], int(sys.argv[3]))

    def on_cut(*_):
        cut.set()
        close_all()

    signal.signal(signal.SIGUSR1, on_cut)
    signal.signal(signal.SIGUSR2, lambda *_: cut.clear())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    print(f"PORT={listener.getsockname()[1]}", flush=True)
    while True:
        client, _ = listener.accept()
        serve(client, target)


if __name__ == "__main__":
    main()
