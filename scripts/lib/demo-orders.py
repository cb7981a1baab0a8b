"""Places a few orders on a demo server, so that the order operations have orders to act on.

Usage: demo-orders.py BASE_URL SELLER_TOKEN BUYER_TOKEN PRODUCT_ID COUNT

As the seller: a show with PRODUCT_ID in its lineup, started. As the buyer: COUNT orders of one
unit over the WebSocket (`order.place`). Prints the orders' ids, comma-separated. Standard
library only: a minimal WebSocket client (text frames, masked as a client must).
"""

import base64
import json
import os
import socket
import struct
import sys
import urllib.parse
import urllib.request


def rest(base, method, path, token, body=None):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class WebSocket:
    def __init__(self, base, token):
        url = urllib.parse.urlsplit(base)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws?token={token} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise SystemExit(f"no WebSocket: {head.decode(errors='replace')}")

    def _exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise SystemExit("the server closed the WebSocket")
            data += chunk
        return data

    def send(self, value):
        payload = json.dumps(value).encode()
        mask = os.urandom(4)
        length = len(payload)
        header = struct.pack("!BB", 0x81, 0x80 | length) if length < 126 else struct.pack("!BBH", 0x81, 0xFE, length)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def receive(self):
        first, second = self._exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._exactly(8))
        payload = self._exactly(length)
        return json.loads(payload) if first & 0x0F == 0x1 else None

    def call(self, command):
        self.send(command)
        while True:
            frame = self.receive()
            if isinstance(frame, dict) and frame.get("re") == command["id"]:
                if not frame.get("ok"):
                    raise SystemExit(f"{command['op']} refused: {frame}")
                return frame["data"]


def main():
    base, seller, buyer, product, count = sys.argv[1:6]
    show = rest(base, "POST", "/api/shows", seller, {"title": "Chốt đơn thử", "products": [product]})["show"]["id"]
    rest(base, "POST", f"/api/shows/{show}/start", seller)
    ws = WebSocket(base, buyer)
    orders = []
    for n in range(int(count)):
        command = {"id": n + 1, "op": "order.place", "show": show, "product_id": product, "qty": 1,
                   "key": f"{show}-{n:04}"}
        orders.append(ws.call(command)["order"]["id"])
    print(",".join(orders))


main()
