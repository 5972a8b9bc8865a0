#!/usr/bin/env python3
"""The reference program's sender, written the way the classic OpenCV socket tutorials do.

Reads a video with cv2.VideoCapture, encodes every frame with cv2.imencode('.jpg', q90) and
sends str(len(data)).ljust(16) + data over TCP, one sendall() per frame, then closes.

usage: python_sender.py CLIP HOST PORT
prints the number of frames sent at the end.
"""
import socket
import sys

import cv2

clip, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.connect((host, port))

cap = cv2.VideoCapture(clip)
encode_param = [int(cv2.IMWRITE_JPEG_QUALITY), 90]
sent = 0
while True:
    ret, frame = cap.read()
    if not ret:
        break
    result, encoded = cv2.imencode('.jpg', frame, encode_param)
    data = encoded.tobytes()
    sock.sendall(str(len(data)).ljust(16).encode() + data)
    sent += 1

cap.release()
sock.close()
print(sent, flush=True)
