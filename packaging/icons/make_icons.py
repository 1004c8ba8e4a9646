"""Draw pairdesk's icon: the SVG and PNGs the package ships, and the Windows/macOS files.

The icon is a green rounded square holding a QR finder pattern. Its shapes
are listed once (`SHAPES`, on a 64-unit grid) and drawn twice: as SVG text
and, with Pillow, as PNGs at the sizes desktops ask for (hicolor theme
sizes; Windows and macOS take theirs from the largest PNG). Every PNG is
drawn at 1024 px and scaled down, so small sizes stay crisp without
hand-tuning.

    python packaging/icons/make_icons.py              # app/ui/icons/ (committed)
    python packaging/icons/make_icons.py --ico X.ico  # also a Windows icon
    python packaging/icons/make_icons.py --icns X.icns

Run it again only when the design changes; the bundles read the committed
PNGs (`packaging/pyinstaller/common.py`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

GREEN = "#15803d"  # app/ui/theme.py GREEN: the console's "connected" colour
WHITE = "#ffffff"
GRID = 64
# (kind, x0, y0, x1, y1, radius, colour) on the 64-unit grid, painted in order.
SHAPES = (
    ("rect", 2, 2, 62, 62, 14, GREEN),
    ("rect", 14, 14, 50, 50, 3, WHITE),
    ("rect", 19, 19, 45, 45, 2, GREEN),
    ("rect", 25, 25, 39, 39, 1, WHITE),
)
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICONS_DIR = Path(__file__).resolve().parents[2] / "app" / "ui" / "icons"
MASTER = 1024


def svg() -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{GRID}" height="{GRID}" '
        f'viewBox="0 0 {GRID} {GRID}">'
    ]
    for _kind, x0, y0, x1, y1, r, colour in SHAPES:
        parts.append(
            f'  <rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" '
            f'rx="{r}" fill="{colour}"/>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def master() -> Image.Image:
    image = Image.new("RGBA", (MASTER, MASTER), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    scale = MASTER / GRID
    for _kind, x0, y0, x1, y1, r, colour in SHAPES:
        box = (x0 * scale, y0 * scale, x1 * scale - 1, y1 * scale - 1)
        draw.rounded_rectangle(box, radius=r * scale, fill=colour)
    return image


def png(size: int, big: Image.Image | None = None) -> Image.Image:
    return (big or master()).resize((size, size), Image.Resampling.LANCZOS)


def write_package_icons(folder: Path = ICONS_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    big = master()
    written = [folder / "pairdesk.svg"]
    written[0].write_text(svg(), encoding="utf-8")
    for size in PNG_SIZES:
        path = folder / f"pairdesk-{size}.png"
        png(size, big).save(path, optimize=True)
        written.append(path)
    return written


def write_ico(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    png(256).save(path, sizes=[(s, s) for s in ICO_SIZES])
    return path


def write_icns(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    png(512).save(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ico", type=Path, help="also write a Windows .ico here")
    parser.add_argument("--icns", type=Path, help="also write a macOS .icns here")
    parser.add_argument("--only-platform", action="store_true", help="skip app/ui/icons/")
    args = parser.parse_args()
    written = [] if args.only_platform else write_package_icons()
    if args.ico:
        written.append(write_ico(args.ico))
    if args.icns:
        written.append(write_icns(args.icns))
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
