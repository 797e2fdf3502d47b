#!/usr/bin/env python3
"""Build the image sets used to tune and measure snailzip outside the Kodak benchmark.

Why this exists: the built-in models are tuned on photographs, and Kodak is the test set, so
tuning decisions need images that are *neither* Kodak *nor* photos only. This script makes,
reproducibly and from public material on a Debian machine, three folders:

  graphics/    16 lossless PNGs of screen content and graphics: a terminal screenshot of
               Rust code, a text document, five matplotlib charts, four Adwaita icons with
               alpha, a grey "scanned" text page, a colour wheel, a two-colour dither/checker
               pattern, a pixel-art scene and a flat UI mockup.
  photos-val/  the first 20 BSDS500 `val_*` photos (sorted by name), each box-downscaled by
               2 (2x2 mean, rounding half up) so JPEG blocking is gone, saved as RGB PNG.
  noise/       noise.png: 128x128 RGB uniform random bytes (an incompressible control).

Each folder gets a SOURCES.txt naming where every image came from (font file and its Debian
package, icon path and package, source JPEG and its SHA-256, library versions) and the
SHA-256 of its decoded pixels, so a rebuilt set can be compared with an earlier one even when
zlib writes the PNG bytes differently.

The images are data, not project files: they are written to the output folder given as the
first argument (default: ../tuning-data beside the repository) and the script refuses to
write inside the repository. Every random choice uses a fixed seed with numpy's legacy
RandomState, whose streams numpy keeps frozen across versions. Rendered text depends on the
FreeType inside Pillow/matplotlib, so pixels are only guaranteed identical for the same
library versions (recorded in SOURCES.txt).

Needs: Python 3 with Pillow, numpy and matplotlib; Debian's fonts-dejavu-core,
adwaita-icon-theme and base-files (for /usr/share/common-licenses); the BSDS500 copy in
$SNAILZIP_DATA/photos/bsds500 (else ../shared/data/photos/bsds500). See tuning_sets.md.

Usage: python3 scripts/tuning_sets.py [OUTPUT_DIR] [--bsds DIR]
"""

import argparse
import hashlib
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, features

import matplotlib

matplotlib.use("Agg")  # no display; render into memory
import matplotlib.pyplot as plt  # noqa: E402  (must follow use())

matplotlib.rcdefaults()  # ignore any user matplotlibrc: the charts must not depend on it

REPO = Path(__file__).resolve().parent.parent

# Fonts from Debian's fonts-dejavu-core (installed on the project's machines).
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
MONO = FONT_DIR / "DejaVuSansMono.ttf"
MONO_BOLD = FONT_DIR / "DejaVuSansMono-Bold.ttf"
SANS = FONT_DIR / "DejaVuSans.ttf"
SANS_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
SERIF = FONT_DIR / "DejaVuSerif.ttf"

# Prose to typeset: the Apache licence text that Debian's base-files ships.
LICENSE_TEXT = Path("/usr/share/common-licenses/Apache-2.0")

# The Rust source shown in the code screenshot, read at a pinned commit so the picture does
# not change as the file is edited (falls back to the working tree if the commit is absent).
CODE_COMMIT = "b48296d2f1d4965e51cdea8ea8158a66cdc29200"
CODE_FILE = "src/image_io.rs"
CODE_ANCHOR = "pub enum ColorType"  # the excerpt starts 2 lines above this line
CODE_LINES = 60

# Icons from Debian's adwaita-icon-theme: (source path, output edge in pixels).
ICON_DIR = Path("/usr/share/icons/Adwaita")
ICONS = [
    (ICON_DIR / "256x256/places/user-trash.png", 256),
    (ICON_DIR / "256x256/mimetypes/x-package-repository.png", 256),
    (ICON_DIR / "512x512/places/folder-pictures.png", 256),
    (ICON_DIR / "512x512/devices/camera-web.png", 128),
]

PHOTO_COUNT = 20
SEED = 20261201  # base seed; each image adds its own offset


# --------------------------------------------------------------------------------------------
# Bookkeeping


def debian_package(path):
    """The Debian package that owns `path` (via dpkg -S), or a note saying it is unknown."""
    try:
        out = subprocess.run(
            ["dpkg", "-S", str(path)], capture_output=True, text=True, check=True
        ).stdout
        pkg = out.split(":", 1)[0].strip()
        ver = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True
        ).stdout.strip()
        return f"{pkg} {ver}".strip()
    except (OSError, subprocess.CalledProcessError):
        return "package unknown (dpkg -S found none)"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Folder:
    """One output set: saves PNGs without metadata and collects SOURCES.txt lines."""

    def __init__(self, root, name, title):
        self.dir = root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        # The folder belongs to this script: drop PNGs of an earlier run so that renamed or
        # removed images do not linger in the set.
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.title = title
        self.rows = []

    def save(self, name, img, source):
        """Write `img` as `name` (plain PNG, no text/ICC/pHYs chunks) and record `source`."""
        # A fresh image from the raw bytes carries none of the input's info (Pillow would
        # otherwise copy an ICC profile or similar into the output).
        clean = Image.frombytes(img.mode, img.size, img.tobytes())
        path = self.dir / name
        clean.save(path, format="PNG", compress_level=9)
        pixels = hashlib.sha256(clean.tobytes()).hexdigest()
        w, h = clean.size
        self.rows.append(
            f"{name}\t{w}x{h}\t{clean.mode}\tpixels-sha256 {pixels}\n    {source}"
        )
        print(f"  {path}  {w}x{h} {clean.mode}  {path.stat().st_size} bytes")

    def write_sources(self):
        header = [
            f"# {self.title}",
            "# Written by snailzip scripts/tuning_sets.py; do not edit by hand.",
            f"# {library_versions()}",
            "# Columns: file, size, Pillow mode, SHA-256 of the raw decoded pixels"
            " (row-major, interleaved); then where it came from.",
            "",
        ]
        (self.dir / "SOURCES.txt").write_text("\n".join(header + self.rows) + "\n")


def library_versions():
    return (
        f"Python {platform.python_version()}, Pillow {Image.__version__}"
        f" (FreeType {features.version('freetype2')}), numpy {np.__version__},"
        f" matplotlib {matplotlib.__version__}"
    )


def font(path, size):
    if not path.exists():
        sys.exit(f"missing font {path}: apt-get install -y fonts-dejavu-core")
    return ImageFont.truetype(str(path), size)


def font_note(*paths):
    return "; ".join(f"font {p} ({debian_package(p)})" for p in paths)


# --------------------------------------------------------------------------------------------
# Text sources


def rust_excerpt():
    """CODE_LINES lines of CODE_FILE starting just above CODE_ANCHOR, and where they came from."""
    try:
        text = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{CODE_COMMIT}:{CODE_FILE}"],
            capture_output=True, text=True, check=True,
        ).stdout
        origin = f"{CODE_FILE} at commit {CODE_COMMIT}"
    except (OSError, subprocess.CalledProcessError):
        text = (REPO / CODE_FILE).read_text()
        origin = f"{CODE_FILE} from the working tree (commit {CODE_COMMIT} not found)"
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if CODE_ANCHOR in l) - 2
    return start + 1, lines[start:start + CODE_LINES], origin


def license_paragraphs():
    """The Apache-2.0 text as reflowed paragraphs (title lines dropped)."""
    raw = LICENSE_TEXT.read_text()
    body = raw[raw.index("1. Definitions."):]
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", body)]
    return [p for p in paras if p]


def wrap(text, fnt, width):
    """Greedy word wrap by rendered width."""
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and fnt.getlength(trial) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    return lines


# --------------------------------------------------------------------------------------------
# Screen content drawn with Pillow

RUST_KEYWORDS = set(
    "as break const continue crate else enum extern false fn for if impl in let loop match mod"
    " move mut pub ref return self Self static struct super trait true type unsafe use where"
    " while dyn async await".split()
)
# One alternation, tried left to right at each position: (group name, pattern).
RUST_TOKENS = re.compile(
    "|".join(
        f"(?P<{name}>{pat})"
        for name, pat in [
            ("comment", r"//.*$"),
            ("attr", r"#!?\[[^\]]*\]"),
            ("string", r'"(?:\\.|[^"\\])*"'),
            ("char", r"'(?:\\.|[^'\\])'"),
            ("number", r"\b\d[\d_]*(?:\.\d+)?(?:[ui](?:8|16|32|64|size)|f32|f64)?\b"),
            ("macro", r"\b[a-z_][a-z0-9_]*!"),
            ("word", r"\b[A-Za-z_][A-Za-z0-9_]*\b"),
        ]
    )
)


def code_screenshot():
    """Dark terminal/editor window with 60 syntax-coloured lines of this repo's Rust code."""
    first_no, lines, origin = rust_excerpt()
    W, H = 800, 700
    bg, bar, gutter_fg, cur_line = (30, 32, 38), (44, 47, 55), (92, 99, 112), (40, 44, 52)
    colours = {
        "plain": (220, 223, 228), "comment": (110, 118, 129), "attr": (97, 175, 239),
        "string": (152, 195, 121), "char": (152, 195, 121), "number": (209, 154, 102),
        "macro": (86, 182, 194), "keyword": (198, 120, 221), "type": (229, 192, 123),
    }
    img = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(img)
    # Title bar with the three window buttons.
    d.rectangle([0, 0, W, 23], fill=bar)
    for i, c in enumerate([(237, 106, 94), (245, 191, 79), (98, 197, 84)]):
        d.ellipse([10 + 18 * i, 6, 22 + 18 * i, 18], fill=c)
    title = f"{Path(CODE_FILE).name} — snailzip — vim"
    tf = font(SANS, 12)
    d.text(((W - tf.getlength(title)) / 2, 5), title, font=tf, fill=(170, 176, 186))

    mono = font(MONO, 10)
    cw = mono.getlength("M")  # monospace advance
    line_h, top, x_code = 11, 24 + 8, 8 + 5 * cw
    for i, src in enumerate(lines):
        y = top + i * line_h
        if i == 17:  # the "cursor line"
            d.rectangle([0, y, W, y + line_h - 1], fill=cur_line)
        d.text((8, y), f"{first_no + i:4d}", font=mono, fill=gutter_fg)
        src = src.expandtabs(4)
        pos = 0
        for m in RUST_TOKENS.finditer(src):
            kind = m.lastgroup
            if kind == "word":
                w = m.group()
                kind = "keyword" if w in RUST_KEYWORDS else "type" if w[0].isupper() else "plain"
            if m.start() > pos:  # untokenised punctuation/space before the match
                d.text((round(x_code + pos * cw), y), src[pos:m.start()], font=mono,
                       fill=colours["plain"])
            d.text((round(x_code + m.start() * cw), y), m.group(), font=mono, fill=colours[kind])
            pos = m.end()
        if pos < len(src):
            d.text((round(x_code + pos * cw), y), src[pos:], font=mono, fill=colours["plain"])
    # Block cursor on the cursor line.
    cy = top + 17 * line_h
    d.rectangle([round(x_code + 4 * cw), cy, round(x_code + 5 * cw) - 1, cy + line_h - 1],
                fill=(220, 223, 228))
    return img, f"drawn with Pillow: {origin}; {font_note(MONO, SANS)}"


def text_document():
    """Light-background document page: the Apache licence in a proportional font."""
    W, H, margin = 760, 900, 48
    img = Image.new("RGB", (W, H), (252, 252, 250))
    d = ImageDraw.Draw(img)
    head, body, bold = font(SANS_BOLD, 22), font(SANS, 14), font(SANS_BOLD, 14)
    d.text((margin, 36), "Apache License, Version 2.0", font=head, fill=(25, 25, 30))
    d.text((margin, 68), "Terms and conditions for use, reproduction, and distribution",
           font=font(SANS, 13), fill=(110, 110, 118))
    d.line([margin, 94, W - margin, 94], fill=(205, 208, 214), width=1)
    y, line_h = 110, 20
    for para in license_paragraphs():
        # Section headings ("2. Grant of Copyright License.") go bold on their own line.
        m = re.match(r"^(\d+\. [A-Z][^.]*\.)\s*(.*)$", para)
        if m:
            if y + 2 * line_h > H - 60:
                break
            d.text((margin, y), m.group(1), font=bold, fill=(25, 25, 30))
            y += line_h + 4
            para = m.group(2)
        for line in wrap(para, body, W - 2 * margin):
            if y + line_h > H - 60:
                break
            d.text((margin, y), line, font=body, fill=(40, 40, 46))
            y += line_h
        y += 8
        if y > H - 60:
            break
    footer = "— 1 —"
    ff = font(SANS, 12)
    d.text(((W - ff.getlength(footer)) / 2, H - 36), footer, font=ff, fill=(140, 140, 148))
    return img, (f"drawn with Pillow: text of {LICENSE_TEXT} ({debian_package(LICENSE_TEXT)});"
                 f" {font_note(SANS, SANS_BOLD)}")


def scanned_text():
    """Grey (L) page that looks scanned: serif text, slight skew, blur, paper tone and noise."""
    W, H = 640, 480
    big = Image.new("L", (2 * W, 2 * H), 255)  # drawn at 2x, then box-reduced
    d = ImageDraw.Draw(big)
    fnt = font(SERIF, 26)
    paras = license_paragraphs()
    start = next(i for i, p in enumerate(paras) if p.startswith("2. Grant"))
    y = 60
    for para in paras[start:]:
        for line in wrap(para, fnt, 2 * W - 160):
            if y > 2 * H - 80:
                break
            d.text((80, y), line, font=fnt, fill=0)
            y += 36
        y += 18
    big = big.rotate(0.6, resample=Image.BICUBIC, fillcolor=255)
    small = big.reduce(2).filter(ImageFilter.GaussianBlur(0.7))
    a = np.asarray(small, dtype=np.float64) / 255.0
    rng = np.random.RandomState(SEED + 1)
    # Paper is light grey with a gentle left-to-right shading; ink is dark grey, not black.
    paper = 228.0 + 10.0 * np.linspace(-1, 1, W)[None, :]
    a = 35.0 + (paper - 35.0) * a + rng.normal(0.0, 5.0, size=a.shape)
    img = Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8), "L")
    return img, (f"drawn with Pillow + numpy (seed {SEED + 1}): text of {LICENSE_TEXT}"
                 f" ({debian_package(LICENSE_TEXT)}); {font_note(SERIF)};"
                 " rotated 0.6 deg, 2x box-reduced, Gaussian blur 0.7, noise sigma 5")


def colour_wheel():
    """HSV hue circle (hue = angle, saturation = radius, value = 1) on white, smooth edge."""
    N = 512
    c = (N - 1) / 2.0
    yy, xx = np.mgrid[0:N, 0:N].astype(np.float64)
    dx, dy = xx - c, c - yy
    r = np.hypot(dx, dy)
    R = N / 2.0 - 8
    hue = (np.degrees(np.arctan2(dy, dx)) % 360.0) / 60.0  # sector 0..6
    sat = np.clip(r / R, 0.0, 1.0)
    # Textbook HSV->RGB with V=1: channel = 1 - S * clamp(k), k per channel from the hue.
    rgb = np.empty((N, N, 3))
    for ch, n in enumerate((5.0, 3.0, 1.0)):
        k = (n + hue) % 6.0
        rgb[..., ch] = 1.0 - sat * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    cover = np.clip(R - r + 0.5, 0.0, 1.0)[..., None]  # 1-pixel antialiased rim
    out = rgb * cover + 1.0 * (1.0 - cover)
    img = Image.fromarray(np.round(out * 255.0).astype(np.uint8), "RGB")
    return img, "drawn with numpy: HSV hue circle, V=1, saturation by radius, white outside"


def binary_pattern():
    """Two-colour (0/255, mode L) pattern: checkerboards, Bayer ordered dither, error diffusion."""
    W, H = 320, 256
    out = np.zeros((H, W), dtype=np.uint8)
    yy, xx = np.mgrid[0:H, 0:W]
    # Top band: checkerboards with cells of 1, 2, 4 and 8 pixels.
    for i, cell in enumerate((1, 2, 4, 8)):
        x0 = i * 80
        band = ((yy[:64, x0:x0 + 80] // cell + xx[:64, x0:x0 + 80] // cell) % 2) * 255
        out[:64, x0:x0 + 80] = band
    # Middle band: 8x8 Bayer ordered dither of a left-to-right ramp.
    bayer = np.array([[0]])
    for _ in range(3):
        bayer = np.block([[4 * bayer, 4 * bayer + 2], [4 * bayer + 3, 4 * bayer + 1]])
    ramp = xx[64:160] / (W - 1)
    thresh = (bayer[yy[64:160] % 8, xx[64:160] % 8] + 0.5) / 64.0
    out[64:160] = np.where(ramp > thresh, 255, 0)
    # Bottom band: Floyd-Steinberg error diffusion of a radial gradient (own loop, so the
    # result does not depend on Pillow's dithering code).
    bh = H - 160
    g = np.hypot(xx[160:] - W / 2, (yy[160:] - 160 - bh / 2) * 2.0)
    g = 1.0 - np.clip(g / (W / 2), 0.0, 1.0)
    g = g.astype(np.float64).copy()
    for y in range(bh):
        for x in range(W):
            v = 1.0 if g[y, x] >= 0.5 else 0.0
            e = g[y, x] - v
            g[y, x] = v
            if x + 1 < W:
                g[y, x + 1] += e * 7 / 16
            if y + 1 < bh:
                if x > 0:
                    g[y + 1, x - 1] += e * 3 / 16
                g[y + 1, x] += e * 5 / 16
                if x + 1 < W:
                    g[y + 1, x + 1] += e * 1 / 16
    out[160:] = (g * 255).astype(np.uint8)
    return Image.fromarray(out, "L"), (
        "drawn with numpy: two values (0, 255); checkerboards (1/2/4/8 px),"
        " 8x8 Bayer dither of a ramp, Floyd-Steinberg dither of a radial gradient")


# Two 16x16 sprites for the pixel-art scene, one character per pixel ("." = transparent).
SNAIL = """
................
....kkkkk.......
...kssssSk......
..ksSSSSsSk.....
.ksSsssSSsSk....
.ksSsSSsSsSk....
.ksSsSksSsSk.k.k
.ksSsSSSsSSk.k.k
.kssSsssSSk..kek
..kssSSSSk..kbbk
...kkssskkkkbbbk
.kkkkkkkkbbbbbk.
kbbbbbbbbbbbbk..
kbbbbbbbbbbbk...
.kkkkkkkkkkk....
................
"""
HEART = """
................
................
..kkk.....kkk...
.krrrk...krrrk..
krwwrrk.krrrrrk.
krwrrrrkrrrrrrk.
krrrrrrrrrrrrrk.
krrrrrrrrrrrrrk.
.krrrrrrrrrrRk..
..krrrrrrrrRk...
...krrrrrrRk....
....krrrrRk.....
.....krrRk......
......kRk.......
.......k........
................
"""
SPRITE_COLOURS = {"k": (24, 20, 37), "s": (228, 166, 114), "S": (184, 111, 80),
                  "b": (99, 199, 77), "e": (255, 255, 255), "r": (228, 59, 68),
                  "R": (158, 40, 53), "w": (255, 255, 255)}


def pixel_art():
    """Small-palette pixel-art scene (sky, clouds, bricks, sprites) scaled 8x, nearest."""
    W, H, scale = 48, 32, 8
    a = np.zeros((H, W, 3), dtype=np.uint8)
    a[:] = (99, 155, 255)  # sky
    for cx, cy, cw in [(6, 3, 8), (34, 2, 10)]:  # blocky clouds
        a[cy:cy + 2, cx:cx + cw] = (255, 255, 255)
        a[cy - 1, cx + 2:cx + cw - 2] = (255, 255, 255)
    a[24:] = (190, 74, 47)  # brick ground with mortar lines every 4 rows / 8 columns
    a[24::4] = (115, 62, 57)
    for row in range(24, H):
        offset = 4 if (row - 24) // 4 % 2 else 0
        a[row, offset::8] = (115, 62, 57)
    for sprite, (x0, y0) in [(SNAIL, (5, 9)), (HEART, (28, 5))]:
        for y, line in enumerate(sprite.strip("\n").splitlines()):
            for x, ch in enumerate(line):
                if ch != ".":
                    a[y0 + y, x0 + x] = SPRITE_COLOURS[ch]
    img = Image.fromarray(a, "RGB").resize((W * scale, H * scale), Image.NEAREST)
    return img, "drawn with numpy: hand-made 16x16 sprites, 10-colour scene, 8x nearest upscale"


def ui_mockup():
    """Flat desktop-app mockup: app bar, sidebar, form controls, buttons, a file table."""
    W, H = 800, 600
    accent, text, muted = (45, 108, 223), (33, 37, 41), (108, 117, 125)
    img = Image.new("RGB", (W, H), (245, 246, 248))
    d = ImageDraw.Draw(img)
    f13, f12, b13 = font(SANS, 13), font(SANS, 12), font(SANS_BOLD, 13)
    # App bar.
    d.rectangle([0, 0, W, 47], fill=accent)
    d.text((20, 14), "Image Packer — Settings", font=font(SANS_BOLD, 16), fill=(255, 255, 255))
    d.ellipse([W - 44, 10, W - 16, 38], fill=(255, 255, 255))
    d.text((W - 35, 16), "P", font=b13, fill=accent)
    # Sidebar with one selected item.
    d.rectangle([0, 48, 179, H - 25], fill=(232, 235, 240))
    for i, item in enumerate(["General", "Compression", "Models", "Limits", "Metadata",
                              "Advanced", "About"]):
        y = 64 + 36 * i
        if item == "Compression":
            d.rectangle([0, y - 6, 179, y + 24], fill=(210, 222, 245))
            d.rectangle([0, y - 6, 3, y + 24], fill=accent)
        d.text((24, y), item, font=b13 if item == "Compression" else f13, fill=text)
    # Content: heading and form rows.
    x0 = 212
    d.text((x0, 68), "Compression", font=font(SANS_BOLD, 20), fill=text)
    d.text((x0, 98), "Choose how images are packed into archives.", font=f13, fill=muted)
    rows = [("Output folder", "/home/user/Pictures/packed"), ("Model", "auto ▾"),
            ("Threads", "2")]
    for i, (label, value) in enumerate(rows):
        y = 132 + 44 * i
        d.text((x0, y + 8), label, font=f13, fill=text)
        d.rounded_rectangle([x0 + 130, y, W - 40, y + 32], radius=4, fill=(255, 255, 255),
                            outline=(200, 204, 210))
        d.text((x0 + 142, y + 8), value, font=f13, fill=text)
    # Toggle switch, checkboxes and a slider.
    y = 270
    d.text((x0, y + 3), "Keep metadata", font=f13, fill=text)
    d.rounded_rectangle([x0 + 130, y, x0 + 170, y + 22], radius=11, fill=accent)
    d.ellipse([x0 + 150, y + 2, x0 + 168, y + 20], fill=(255, 255, 255))
    for i, (label, on) in enumerate([("Verify after writing", True),
                                     ("Overwrite existing files", False)]):
        cy = 306 + 28 * i
        d.rectangle([x0 + 130, cy, x0 + 146, cy + 16],
                    fill=accent if on else (255, 255, 255), outline=accent)
        if on:
            d.text((x0 + 132, cy - 1), "✓", font=b13, fill=(255, 255, 255))
        d.text((x0 + 156, cy), label, font=f13, fill=text)
    d.text((x0, 372), "Tile size", font=f13, fill=text)
    d.line([x0 + 130, 380, W - 80, 380], fill=(200, 204, 210), width=4)
    d.line([x0 + 130, 380, x0 + 300, 380], fill=accent, width=4)
    d.ellipse([x0 + 292, 372, x0 + 308, 388], fill=(255, 255, 255), outline=accent, width=2)
    d.text((W - 70, 372), "256", font=f13, fill=muted)
    # File table with alternating rows.
    ty = 404
    d.rectangle([x0, ty, W - 40, ty + 24], fill=(225, 229, 236))
    for x, h in [(x0 + 10, "File"), (x0 + 300, "Size"), (x0 + 420, "Ratio")]:
        d.text((x, ty + 5), h, font=b13, fill=text)
    files = [("holiday-01.png", "544 KiB", "2.41"), ("diagram.png", "88 KiB", "5.10"),
             ("screenshot.png", "1.2 MiB", "3.77"), ("scan-001.png", "310 KiB", "1.96")]
    for i, (name, size, ratio) in enumerate(files):
        y = ty + 24 + 24 * i
        d.rectangle([x0, y, W - 40, y + 23], fill=(255, 255, 255) if i % 2 == 0
                    else (248, 249, 251))
        for x, v in [(x0 + 10, name), (x0 + 300, size), (x0 + 420, ratio)]:
            d.text((x, y + 5), v, font=f12, fill=text)
    d.rectangle([x0, ty, W - 40, ty + 24 + 24 * len(files)], outline=(215, 219, 225))
    # Buttons: secondary (outlined) and primary (filled).
    by = H - 66
    d.rounded_rectangle([W - 250, by, W - 150, by + 32], radius=6, fill=(255, 255, 255),
                        outline=(190, 196, 204))
    d.text((W - 222, by + 8), "Cancel", font=f13, fill=text)
    d.rounded_rectangle([W - 140, by, W - 40, by + 32], radius=6, fill=accent)
    d.text((W - 122, by + 8), "Compress", font=b13, fill=(255, 255, 255))
    # Status bar.
    d.rectangle([0, H - 24, W, H], fill=(225, 228, 233))
    d.text((10, H - 19), "Ready — 4 files, 2.1 MiB", font=f12, fill=muted)
    return img, ("drawn with Pillow: flat rectangles, controls and text;"
                 f" {font_note(SANS, SANS_BOLD)}")


# --------------------------------------------------------------------------------------------
# Charts drawn with matplotlib


def render(fig):
    """Rasterise a matplotlib figure at its exact pixel size to an opaque RGB image."""
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    return Image.fromarray(rgba[..., :3].copy(), "RGB")  # the figure face is opaque white


def figure(w, h):
    return plt.figure(figsize=(w / 100, h / 100), dpi=100, facecolor="white")


def chart_line():
    rng = np.random.RandomState(SEED + 10)
    fig = figure(800, 500)
    ax = fig.add_subplot()
    x = np.arange(0, 60)
    for name, base, slope in [("series A", 3.9, 0.018), ("series B", 4.4, 0.025),
                              ("series C", 4.8, 0.008)]:
        y = base - slope * x + 0.5 * np.exp(-x / 8) + np.cumsum(rng.normal(0, 0.015, x.size))
        ax.plot(x, y, label=name, linewidth=1.8)
    ax.set(xlabel="step", ylabel="value", title="Synthetic random walks (fixed seed)")
    ax.grid(True, alpha=0.4)
    ax.legend()
    fig.tight_layout()
    return render(fig)


def chart_bar():
    rng = np.random.RandomState(SEED + 11)
    fig = figure(900, 400)
    ax = fig.add_subplot()
    cats = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    x = np.arange(len(cats))
    for i, name in enumerate(["group 1", "group 2", "group 3"]):
        ax.bar(x + (i - 1) * 0.27, rng.uniform(1.5, 6.0, len(cats)), 0.27, label=name)
    ax.set_xticks(x, cats)
    ax.set(ylabel="value", title="Synthetic grouped bars (fixed seed)", ylim=(0, 7.2))
    ax.legend(ncols=3, loc="upper left")
    ax.grid(True, axis="y", alpha=0.4)
    fig.tight_layout()
    return render(fig)


def chart_heatmap():
    rng = np.random.RandomState(SEED + 12)
    fig = figure(600, 500)
    ax = fig.add_subplot()
    yy, xx = np.mgrid[0:8, 0:10]
    z = 2.0 + np.sin(xx / 3.0) + np.cos(yy / 2.5) + rng.normal(0, 0.25, xx.shape)
    im = ax.imshow(z, cmap="viridis")
    for (i, j), v in np.ndenumerate(z):
        ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7,
                color="white" if v < z.mean() else "black")
    ax.set(title="Synthetic field (fixed seed)", xlabel="column", ylabel="row")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return render(fig)


def chart_scatter():
    rng = np.random.RandomState(SEED + 13)
    fig = figure(600, 600)
    ax = fig.add_subplot()
    for name, (cx, cy), s in [("cluster A", (2, 3), 0.6), ("cluster B", (5, 1.5), 0.9),
                              ("cluster C", (4, 5), 0.5)]:
        n = 120
        ax.scatter(cx + s * rng.randn(n), cy + s * rng.randn(n), s=rng.uniform(10, 60, n),
                   alpha=0.6, label=name, edgecolors="none")
    ax.set(xlabel="x", ylabel="y", title="Synthetic clusters (fixed seed)")
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return render(fig)


def chart_pie():
    fig = figure(500, 500)
    ax = fig.add_subplot()
    parts = [34, 22, 18, 12, 9, 5]
    labels = ["north", "east", "south", "west", "centre", "other"]
    ax.pie(parts, labels=labels, autopct="%1.0f%%", startangle=90,
           explode=[0.06, 0, 0, 0, 0, 0], wedgeprops={"linewidth": 1, "edgecolor": "white"})
    ax.set_title("Synthetic shares")
    ax.axis("equal")
    fig.tight_layout()
    return render(fig)


# --------------------------------------------------------------------------------------------
# Icons and photos


def box_reduce_rgba(img, factor):
    """Shrink RGBA by an integer factor, averaging premultiplied colour (rounding half up)."""
    a = np.asarray(img, dtype=np.int64)
    h, w = a.shape[0] // factor, a.shape[1] // factor
    blocks = a[:h * factor, :w * factor].reshape(h, factor, w, factor, 4)
    n = factor * factor
    alpha_sum = blocks[..., 3].sum(axis=(1, 3))
    colour_sum = (blocks[..., :3] * blocks[..., 3:4]).sum(axis=(1, 3))  # sum of c * alpha
    out = np.zeros((h, w, 4), dtype=np.int64)
    out[..., 3] = (alpha_sum + n // 2) // n
    safe = np.maximum(alpha_sum, 1)[..., None]
    out[..., :3] = np.where(alpha_sum[..., None] > 0, (colour_sum + safe // 2) // safe, 0)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGBA")


def icon(path, edge):
    if not path.exists():
        sys.exit(f"missing icon {path}: apt-get install -y adwaita-icon-theme")
    img = Image.open(path).convert("RGBA")
    note = f"icon {path} ({debian_package(path)})"
    if img.size != (edge, edge):
        factor = img.size[0] // edge
        assert img.size == (edge * factor, edge * factor), (path, img.size, edge)
        img = box_reduce_rgba(img, factor)
        note += f", {factor}x{factor} premultiplied box-reduced from {img.size[0] * factor} px"
    return img, note


def box_half_rgb(img):
    """Halve an RGB image: mean of each 2x2 block, rounding half up; odd edges cropped."""
    a = np.asarray(img, dtype=np.uint32)
    h, w = a.shape[0] // 2, a.shape[1] // 2
    s = a[:2 * h, :2 * w].reshape(h, 2, w, 2, 3).sum(axis=(1, 3))
    return Image.fromarray(((s + 2) // 4).astype(np.uint8), "RGB")


def bsds_dir(arg):
    if arg:
        return Path(arg)
    data = os.environ.get("SNAILZIP_DATA")
    base = Path(data) if data else REPO.parent / "shared" / "data"
    return base / "photos" / "bsds500"


def val_photos(src_dir):
    """The first PHOTO_COUNT BSDS500 val_*.jpg by file name (exits if there are fewer)."""
    jpgs = sorted(src_dir.glob("val_*.jpg"))
    if len(jpgs) < PHOTO_COUNT:
        sys.exit(f"found {len(jpgs)} val_*.jpg in {src_dir}, need {PHOTO_COUNT}"
                 " (set SNAILZIP_DATA or pass --bsds DIR)")
    return jpgs[:PHOTO_COUNT]


def build_photos(out, jpgs):
    folder = Folder(out, "photos-val", "photos-val: first 20 BSDS500 val_* photos, 2x box-reduced")
    # The project's manifest of the BSDS500 copy, to say whether each source is the known file.
    manifest = {}
    mpath = REPO / "corpus" / "photos-bsds500.sha256"
    if mpath.exists():
        for line in mpath.read_text().splitlines():
            if line.strip():
                digest, name = line.split()
                manifest[name] = digest
    for jpg in jpgs:
        digest = sha256_file(jpg)
        known = {None: "not in corpus/photos-bsds500.sha256",
                 digest: "matches corpus/photos-bsds500.sha256"}.get(
            manifest.get(jpg.name), "DIFFERS from corpus/photos-bsds500.sha256")
        with Image.open(jpg) as im:
            src = im.convert("RGB")
        folder.save(f"{jpg.stem}.png", box_half_rgb(src),
                    f"{jpg} {src.size[0]}x{src.size[1]} sha256 {digest} ({known});"
                    " 2x2 mean, rounding half up, odd edge cropped")
    folder.write_sources()


def build_graphics(out):
    folder = Folder(out, "graphics", "graphics: screen content and graphics, drawn or from Debian")
    mpl = f"drawn by matplotlib {matplotlib.__version__} (its bundled DejaVu Sans), Agg backend"
    img, note = code_screenshot()
    folder.save("code_terminal.png", img, note)
    img, note = text_document()
    folder.save("text_document.png", img, note)
    for name, fn, seed in [("chart_line", chart_line, SEED + 10),
                           ("chart_bar", chart_bar, SEED + 11),
                           ("chart_heatmap", chart_heatmap, SEED + 12),
                           ("chart_scatter", chart_scatter, SEED + 13),
                           ("chart_pie", chart_pie, None)]:
        seed_note = f", data seed {seed}" if seed is not None else ", fixed data"
        folder.save(f"{name}.png", fn(), mpl + seed_note)
    for path, edge in ICONS:
        img, note = icon(path, edge)
        folder.save(f"icon_{path.stem}_{edge}.png", img, note)
    for name, fn in [("scan_text_gray.png", scanned_text), ("colour_wheel.png", colour_wheel),
                     ("binary_dither.png", binary_pattern), ("pixel_art.png", pixel_art),
                     ("ui_mockup.png", ui_mockup)]:
        img, note = fn()
        folder.save(name, img, note)
    folder.write_sources()


def build_noise(out):
    folder = Folder(out, "noise", "noise: incompressible control")
    rng = np.random.RandomState(SEED + 99)
    a = rng.randint(0, 256, size=(128, 128, 3), dtype=np.uint8)
    folder.save("noise.png", Image.fromarray(a, "RGB"),
                f"numpy RandomState({SEED + 99}).randint(0, 256, (128, 128, 3), uint8)")
    folder.write_sources()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default=str(REPO.parent / "tuning-data"),
                    help="output folder (default: ../tuning-data beside the repository)")
    ap.add_argument("--bsds", help="BSDS500 folder (default: $SNAILZIP_DATA/photos/bsds500,"
                                   " else ../shared/data/photos/bsds500)")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    if out == REPO or REPO in out.parents:
        sys.exit(f"refusing to write {out}: the tuning sets must stay outside the repository")
    jpgs = val_photos(bsds_dir(args.bsds))  # check the inputs before writing anything
    out.mkdir(parents=True, exist_ok=True)
    print(f"writing to {out}  ({library_versions()})")
    build_graphics(out)
    build_photos(out, jpgs)
    build_noise(out)
    print("done")


if __name__ == "__main__":
    main()
