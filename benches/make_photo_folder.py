#!/usr/bin/env python3
"""A folder of N photos made from a folder of photos: random square crops (60-100% of the
shorter side), half of them mirrored, saved as JPEG. For the catalogue's scale checks
(BENCHMARKS.md, "The catalogue at full scale"):

    python3 benches/make_photo_folder.py testdata/demo_images photos5000 5000

Needs Pillow. The same arguments give the same photos (seeded)."""

import glob
import os
import random
import sys

from PIL import Image, ImageOps


def main(source: str, out: str, count: int) -> None:
    paths = sorted(glob.glob(os.path.join(source, "*")))
    photos = [
        Image.open(p).convert("RGB")
        for p in paths
        if p.lower().endswith((".jpg", ".jpeg", ".png"))
    ]
    if not photos:
        sys.exit(f"error: {source} holds no JPEG or PNG photos")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(0)
    for i in range(count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        side = int(min(w, h) * rng.uniform(0.6, 1.0))
        x, y = rng.randint(0, w - side), rng.randint(0, h - side)
        crop = photo.crop((x, y, x + side, y + side))
        if rng.random() < 0.5:
            crop = ImageOps.mirror(crop)
        crop.save(os.path.join(out, f"{i:05d}.jpg"), quality=90)
    print(f"{count} photos from {len(photos)} -> {out}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: make_photo_folder.py SOURCE_DIR OUT_DIR COUNT")
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
