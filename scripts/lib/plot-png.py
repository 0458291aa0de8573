#!/usr/bin/env python3
"""Line plots as a PNG with the Python standard library only (zlib), so no plotting package is needed.

    plot-png.py data.csv out.png "title" column[,column…] …

data.csv has a header; its first column is x. Each further argument is one panel: the columns drawn in
it, comma separated, each in its own colour, on a y axis from 0 to the panel's maximum. Text is drawn
with a 5×7 bitmap font (digits, letters, a few signs), enough for titles, axis extremes and legends.
"""
import csv
import struct
import sys
import zlib

FONT = {  # 5x7, rows top to bottom, 5 bits each
    "0": "01110 10001 10011 10101 11001 10001 01110", "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111", "3": "11110 00001 00001 01110 00001 00001 11110",
    "4": "00010 00110 01010 10010 11111 00010 00010", "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110", "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110", "9": "01110 10001 10001 01111 00001 00010 01100",
    ".": "00000 00000 00000 00000 00000 01100 01100", "-": "00000 00000 00000 11111 00000 00000 00000",
    "_": "00000 00000 00000 00000 00000 00000 11111", "/": "00001 00010 00010 00100 01000 01000 10000",
    ",": "00000 00000 00000 00000 01100 00100 01000", ":": "00000 01100 01100 00000 01100 01100 00000",
    "(": "00010 00100 01000 01000 01000 00100 00010", ")": "01000 00100 00010 00010 00010 00100 01000",
    "%": "11001 11010 00010 00100 01000 01011 10011", "=": "00000 00000 11111 00000 11111 00000 00000",
    " ": "00000 00000 00000 00000 00000 00000 00000",
}
for ch, rows in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", [
    "01110 10001 10001 11111 10001 10001 10001", "11110 10001 10001 11110 10001 10001 11110",
    "01110 10001 10000 10000 10000 10001 01110", "11110 10001 10001 10001 10001 10001 11110",
    "11111 10000 10000 11110 10000 10000 11111", "11111 10000 10000 11110 10000 10000 10000",
    "01110 10001 10000 10111 10001 10001 01111", "10001 10001 10001 11111 10001 10001 10001",
    "01110 00100 00100 00100 00100 00100 01110", "00111 00010 00010 00010 00010 10010 01100",
    "10001 10010 10100 11000 10100 10010 10001", "10000 10000 10000 10000 10000 10000 11111",
    "10001 11011 10101 10101 10001 10001 10001", "10001 11001 10101 10011 10001 10001 10001",
    "01110 10001 10001 10001 10001 10001 01110", "11110 10001 10001 11110 10000 10000 10000",
    "01110 10001 10001 10001 10101 10010 01101", "11110 10001 10001 11110 10100 10010 10001",
    "01111 10000 10000 01110 00001 00001 11110", "11111 00100 00100 00100 00100 00100 00100",
    "10001 10001 10001 10001 10001 10001 01110", "10001 10001 10001 10001 10001 01010 00100",
    "10001 10001 10001 10101 10101 10101 01010", "10001 10001 01010 00100 01010 10001 10001",
    "10001 10001 01010 00100 00100 00100 00100", "11111 00001 00010 00100 01000 10000 11111"]):
    FONT[ch] = rows
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189)]
W, PANEL_H, MARGIN_L, MARGIN_R, TITLE_H, GAP = 900, 220, 70, 20, 30, 36


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def set(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def line(self, x0, y0, x1, y1, c, width=1):
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for s in range(steps + 1):
            x = round(x0 + (x1 - x0) * s / steps)
            y = round(y0 + (y1 - y0) * s / steps)
            for d in range(width):
                self.set(x, y + d, c)

    def text(self, x, y, s, c=(0, 0, 0)):
        for ch in s.upper():
            rows = FONT.get(ch, FONT[" "]).split()
            for r, bits in enumerate(rows):
                for k, b in enumerate(bits):
                    if b == "1":
                        self.set(x + k, y + r, c)
            x += 6

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3]) for y in range(self.h))
        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0))
                    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def fmt(v):
    return f"{v:.0f}" if abs(v) >= 100 or v == int(v) else f"{v:.2f}"


def main():
    data, out, title, panels = sys.argv[1], sys.argv[2], sys.argv[3], [p.split(",") for p in sys.argv[4:]]
    rows = list(csv.DictReader(open(data)))
    xname = list(rows[0].keys())[0]
    xs = [float(r[xname]) for r in rows]
    h = TITLE_H + len(panels) * (PANEL_H + GAP)
    cv = Canvas(W, h)
    cv.text(MARGIN_L, 10, title)
    x_lo, x_hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    for p, columns in enumerate(panels):
        top = TITLE_H + p * (PANEL_H + GAP) + 14
        bottom = top + PANEL_H - 20
        values = [[float(r[c]) for r in rows] for c in columns]
        y_hi = max(max(v) for v in values) or 1
        cv.line(MARGIN_L, top, MARGIN_L, bottom, (0, 0, 0))
        cv.line(MARGIN_L, bottom, W - MARGIN_R, bottom, (0, 0, 0))
        cv.text(4, top, fmt(y_hi))
        cv.text(4, bottom - 7, "0")
        cv.text(MARGIN_L, bottom + 6, fmt(x_lo))
        cv.text(W - MARGIN_R - 6 * len(fmt(x_hi)), bottom + 6, fmt(x_hi))
        cv.text((W - 6 * len(xname)) // 2, bottom + 6, xname)
        legend_x = MARGIN_L + 10
        for k, (c, v) in enumerate(zip(columns, values)):
            colour = COLOURS[k % len(COLOURS)]
            cv.line(legend_x, top - 10, legend_x + 12, top - 10, colour, 2)
            cv.text(legend_x + 16, top - 13, c, colour)
            legend_x += 16 + 6 * len(c) + 20
            pts = [(MARGIN_L + round((x - x_lo) / (x_hi - x_lo) * (W - MARGIN_L - MARGIN_R)),
                    bottom - round(y / y_hi * (bottom - top))) for x, y in zip(xs, v)]
            for (a, b), (c2, d) in zip(pts, pts[1:]):
                cv.line(a, b, c2, d, colour, 2)
    cv.png(out)


if __name__ == "__main__":
    main()
