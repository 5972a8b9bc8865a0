#!/usr/bin/env python3
"""Reads raw frames from `vstream recv --format bgr24 --size WxH --output -` on stdin.

    vstream recv --no-window --format bgr24 --size 640x480 --output - | python3 read_pixels.py 640 480

Each frame is exactly W*H*3 bytes (BGR, OpenCV's order), so numpy needs no parser.
"""
import sys

import numpy as np

width, height = int(sys.argv[1]), int(sys.argv[2])
frame_bytes = width * height * 3
count = 0
while True:
    data = sys.stdin.buffer.read(frame_bytes)
    if len(data) < frame_bytes:
        break
    image = np.frombuffer(data, np.uint8).reshape(height, width, 3)
    count += 1
    # Replace with your processing; here: the mean colour, one line per frame.
    b, g, r = image.reshape(-1, 3).mean(axis=0)
    print(f"{count} {width}x{height} mean_bgr {b:.1f} {g:.1f} {r:.1f}", flush=True)
