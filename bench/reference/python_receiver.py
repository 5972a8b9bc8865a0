#!/usr/bin/env python3
"""The reference program's receiver, written the way the classic OpenCV socket tutorials do.

Listens on HOST:PORT (port 0: any free port; prints "listening PORT" when ready), accepts one
connection and loops: length = recvall(16); data = recvall(int(length)); cv2.imdecode(data)
until the sender closes. At the end prints "frames N elapsed SECONDS" (SECONDS: from the first
length received to the last frame decoded).

usage: python_receiver.py HOST [PORT]
"""
import socket
import sys
import time

import cv2
import numpy as np


def recvall(sock, count):
    buf = b''
    while count:
        newbuf = sock.recv(count)
        if not newbuf:
            return None
        buf += newbuf
        count -= len(newbuf)
    return buf


host = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((host, port))
server.listen(1)
print('listening %d' % server.getsockname()[1], flush=True)

conn, addr = server.accept()
frames = 0
first = None
while True:
    length = recvall(conn, 16)
    if length is None:
        break
    if first is None:
        first = time.perf_counter()
    stringData = recvall(conn, int(length))
    if stringData is None:
        break
    data = np.frombuffer(stringData, dtype='uint8')
    decimg = cv2.imdecode(data, 1)
    if decimg is None:
        sys.exit('imdecode failed on frame %d' % frames)
    frames += 1

elapsed = time.perf_counter() - first if first is not None else 0.0
conn.close()
server.close()
print('frames %d elapsed %.6f' % (frames, elapsed), flush=True)
