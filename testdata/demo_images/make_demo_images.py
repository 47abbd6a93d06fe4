#!/usr/bin/env python3
"""Rebuild testdata/demo_images/ (small, freely licensed natural photos).

The images are copied from files that ship *inside* packages; nothing is
fetched from the network at run time (no pooch / skimage.data fetchers).

Python packages (PyPI), e.g. in a virtual environment:

    pip install scikit-image scikit-learn numpy pillow OpenEXR

    - scikit-image: the photos bundled in skimage/data/ (tested with 0.26.0)
    - scikit-learn: sklearn/datasets/images/ (tested with 1.9.1)
    - OpenEXR: reads the Blender HDR panoramas (tested with 3.5.3)

Debian packages (tested on Debian 12 "bookworm"); either install them, or
download and unpack them into a folder and pass that folder as --root:

    apt-get update
    apt-get download palapeli-data lomiri-wallpapers-16.04 blender-data
    for d in *.deb; do dpkg -x "$d" debroot; done
    python3 make_demo_images.py --root debroot

    - palapeli-data           4:22.12.3-1     /usr/share/palapeli/collection/
    - lomiri-wallpapers-16.04 20.04.0-2       /usr/share/backgrounds/
    - blender-data            3.4.1+dfsg-2    /usr/share/blender/datafiles/studiolights/world/

Every output has its short side at most 256 px (aspect ratio kept), carries no
metadata, and is written as JPEG (quality 85) or, for a few, PNG. The script
also rewrites LICENSES.md next to itself from the table below.
"""

import argparse
import importlib.util
import os
import sys

import numpy as np
from PIL import Image, ImageOps

SHORT_SIDE = 256
JPEG_QUALITY = 85

SKIMAGE = "scikit-image (PyPI)"
SKLEARN = "scikit-learn (PyPI)"
PALAPELI = "palapeli-data (Debian)"
LOMIRI = "lomiri-wallpapers-16.04 (Debian)"
BLENDER = "blender-data (Debian)"

PUZZLES = "/usr/share/palapeli/collection/"
LOMIRI_DIR = "/usr/share/backgrounds/"
HDRI_DIR = "/usr/share/blender/datafiles/studiolights/world/"

CC0 = "CC0-1.0 (Creative Commons Zero v1.0 Universal)"
CC_BY_4 = "CC-BY-4.0 (Creative Commons Attribution 4.0 International)"
CC_BY_2 = "CC-BY-2.0 (Creative Commons Attribution 2.0 Generic)"
PD = "Public domain"

# Each entry: output name, what it shows, source package, path in package,
# author, license, license note, and how to cut it:
#   ("crop", (left, top, right, bottom) as fractions of the width/height),
#   ("square", box): the same, then centre-cropped to a square, or
#   ("view", yaw_deg, pitch_deg, width, height) for a perspective view of an
#   equirectangular HDR panorama (90 degree horizontal field of view).
FULL = ("crop", (0.0, 0.0, 1.0, 1.0))

IMAGES = [
    # --- scikit-image, skimage/data/ (licence notes from the docstrings in
    # skimage/data/_fetchers.py)
    ("astronaut.png", "astronaut Eileen Collins in front of a flag", SKIMAGE,
     "skimage/data/astronaut.png", "NASA", PD,
     "NASA photograph; \"No known copyright restrictions, released into the public domain\" (skimage.data.astronaut)",
     FULL),
    ("cat_chelsea.png", "tabby cat (Chelsea)", SKIMAGE,
     "skimage/data/chelsea.png", "Stefan van der Walt", CC0,
     "\"No copyright restrictions. CC0 by the photographer\" (skimage.data.chelsea)",
     FULL),
    ("coffee_cup.jpg", "cup of coffee on a wooden table", SKIMAGE,
     "skimage/data/coffee.png", "Rachel Michetti (courtesy of Pikolo Espresso Bar)", CC0,
     "\"No copyright restrictions. CC0 by the photographer\" (skimage.data.coffee)",
     FULL),
    ("rocket_launch.jpg", "Falcon 9 rocket lifting off", SKIMAGE,
     "skimage/data/rocket.jpg", "SpaceX", PD,
     "released into the public domain by SpaceX (skimage.data.rocket)",
     FULL),
    ("rocket_launch_tall.jpg", "Falcon 9 rocket lifting off (portrait crop)", SKIMAGE,
     "skimage/data/rocket.jpg", "SpaceX", PD,
     "released into the public domain by SpaceX (skimage.data.rocket)",
     ("crop", (0.22, 0.0, 0.62, 1.0))),
    ("hubble_deep_field.jpg", "galaxies in the Hubble eXtreme Deep Field", SKIMAGE,
     "skimage/data/hubble_deep_field.jpg", "NASA", PD,
     "NASA image, \"may be freely used in the public domain\" (skimage.data.hubble_deep_field)",
     FULL),
    ("retina_fundus.jpg", "fundus photograph of a human retina", SKIMAGE,
     "skimage/data/retina.jpg", "Mikael H\u00e4ggstr\u00f6m", CC0,
     "\"Creative Commons CC0 1.0 Universal Public Domain Dedication\" (skimage.data.retina)",
     FULL),
    # --- palapeli-data: per-image author/licence from the puzzle's .desktop
    # file next to the JPEG (X-KDE-PluginInfo-Author / -License / -Website)
    ("bridge_night.jpg", "Roebling suspension bridge, Cincinnati, at night", PALAPELI,
     PUZZLES + "cincinnati-bridge.jpg", "Derek Jensen", PD,
     "License=Public Domain in cincinnati-bridge.desktop (Wikimedia Commons: Cincinnati-roebling-suspension-bridge.jpg)",
     FULL),
    ("citrus_fruits.jpg", "slices of oranges, lemons and limes", PALAPELI,
     PUZZLES + "citrus-fruits.jpg", "US Department of Agriculture", PD,
     "License=Public Domain in citrus-fruits.desktop (Wikimedia Commons: Citrus_fruits.jpg)",
     FULL),
    ("citrus_closeup.png", "slices of citrus fruit (square close-up)", PALAPELI,
     PUZZLES + "citrus-fruits.jpg", "US Department of Agriculture", PD,
     "License=Public Domain in citrus-fruits.desktop (Wikimedia Commons: Citrus_fruits.jpg)",
     ("square", (0.05, 0.10, 0.50, 0.80))),
    ("honey_bee.jpg", "honey bee on a purple flower", PALAPELI,
     PUZZLES + "european-honey-bee.jpg", "John Severns", PD,
     "License=Public Domain in european-honey-bee.desktop (Wikimedia Commons: European_honey_bee_extracts_nectar.jpg)",
     FULL),
    ("honey_bee_closeup.jpg", "honey bee on a flower (close-up)", PALAPELI,
     PUZZLES + "european-honey-bee.jpg", "John Severns", PD,
     "License=Public Domain in european-honey-bee.desktop (Wikimedia Commons: European_honey_bee_extracts_nectar.jpg)",
     ("square", (0.05, 0.10, 0.65, 0.85))),
    # --- lomiri-wallpapers-16.04: per-file licences in
    # /usr/share/doc/lomiri-wallpapers-16.04/copyright (listed there as 16.04/NAME)
    ("dandelions.jpg", "dandelion seed heads in a meadow", LOMIRI,
     LOMIRI_DIR + "seeding_by_Clements_Engelhardt.jpg", "Clemens Engelhardt", CC0, "",
     FULL),
    ("fig_on_plate.jpg", "halved fig on a red plate", LOMIRI,
     LOMIRI_DIR + "Picture_0B_by_freespace.jpg", "Trevor \"Freespace\"", CC_BY_4, "",
     FULL),
    ("paint_brushes.jpg", "paint brushes in a jar", LOMIRI,
     LOMIRI_DIR + "Picture_1A_by_freespace.jpg", "Trevor \"Freespace\"", CC_BY_4, "",
     FULL),
    ("living_room.jpg", "living room with a drum, wine bottle and speakers (portrait)", LOMIRI,
     LOMIRI_DIR + "Wine_by_Jakkub_Mede.jpg", "Jakub Mede", CC_BY_4, "",
     FULL),
    ("mountain_meadow.jpg", "meadow, autumn forest and mountains", LOMIRI,
     LOMIRI_DIR + "aitzgorri_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", CC_BY_4, "",
     FULL),
    ("dogs_at_door.jpg", "two dogs looking out of a wooden door (portrait)", LOMIRI,
     LOMIRI_DIR + "friends_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", CC_BY_4, "",
     FULL),
    ("dogs_closeup.png", "two dogs looking out of a door (square close-up)", LOMIRI,
     LOMIRI_DIR + "friends_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", CC_BY_4, "",
     ("square", (0.05, 0.20, 0.95, 0.80))),
    ("forest_stream.jpg", "stream over rocks in a forest", LOMIRI,
     LOMIRI_DIR + "life_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", CC_BY_4, "",
     FULL),
    ("mountain_trail.jpg", "trail across pasture below rocky peaks (Picos de Europa)", LOMIRI,
     LOMIRI_DIR + "picosdeeuropa_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", CC_BY_4, "",
     FULL),
    ("sunset_hills.jpg", "sun setting over hills", LOMIRI,
     LOMIRI_DIR + "sunset_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", CC_BY_4, "",
     FULL),
    # --- scikit-learn, sklearn/datasets/images/README.txt
    ("china_temple.jpg", "Chinese temple roof and trees", SKLEARN,
     "sklearn/datasets/images/china.jpg", "danielbuechele (Flickr)", CC_BY_2,
     "per sklearn/datasets/images/README.txt",
     FULL),
    ("flower.jpg", "orange dahlia-like flower (close-up)", SKLEARN,
     "sklearn/datasets/images/flower.jpg", "vultilion (Flickr)", CC_BY_2,
     "per sklearn/datasets/images/README.txt (its attribution line repeats danielbuechele, but the source link given is vultilion's Flickr photo)",
     FULL),
    # --- blender-data: HDRI panoramas; licence.txt in the same folder reads
    # "All HDRIs are licenses as CC0. These were created by Greg Zaal (HDRI Haven)"
    ("city_buildings.jpg", "office buildings and a car park", BLENDER,
     HDRI_DIR + "city.exr", "Greg Zaal (HDRI Haven)", CC0, "perspective view rendered from the panorama",
     ("view", 180, 8, 256, 192)),
    ("courtyard_house.jpg", "house wall and window in a courtyard", BLENDER,
     HDRI_DIR + "courtyard.exr", "Greg Zaal (HDRI Haven)", CC0, "perspective view rendered from the panorama",
     ("view", 90, 0, 256, 192)),
    ("courtyard_garage.jpg", "paved courtyard, garage and palm tree", BLENDER,
     HDRI_DIR + "courtyard.exr", "Greg Zaal (HDRI Haven)", CC0, "perspective view rendered from the panorama",
     ("view", 0, 0, 256, 192)),
    ("park_path.jpg", "path, fence and trees in a park", BLENDER,
     HDRI_DIR + "forest.exr", "Greg Zaal (HDRI Haven)", CC0, "perspective view rendered from the panorama",
     ("view", 0, 0, 256, 192)),
    ("park_trees_tall.jpg", "trees and rocks in a park (portrait)", BLENDER,
     HDRI_DIR + "forest.exr", "Greg Zaal (HDRI Haven)", CC0, "perspective view rendered from the panorama",
     ("view", 170, 12, 192, 256)),
    ("hotel_bedroom.jpg", "hotel bedroom with a bed and window", BLENDER,
     HDRI_DIR + "interior.exr", "Greg Zaal (HDRI Haven)", CC0, "perspective view rendered from the panorama",
     ("view", 90, 0, 256, 192)),
    ("field_pylon.jpg", "grass field with an electricity pylon", BLENDER,
     HDRI_DIR + "sunrise.exr", "Greg Zaal (HDRI Haven)", CC0, "perspective view rendered from the panorama",
     ("view", 180, 0, 256, 192)),
    ("seafront_villa.jpg", "villa on a seafront promenade", BLENDER,
     HDRI_DIR + "sunset.exr", "Greg Zaal (HDRI Haven)", CC0, "perspective view rendered from the panorama",
     ("view", 180, 0, 256, 192)),
    ("sea_sunset.jpg", "sun setting over the sea", BLENDER,
     HDRI_DIR + "sunset.exr", "Greg Zaal (HDRI Haven)", CC0, "perspective view rendered from the panorama",
     ("view", 0, 0, 256, 192)),
]


def package_dir(module):
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"python package {module!r} is not installed")
    return os.path.dirname(list(spec.submodule_search_locations)[0])


def source_path(package, path, root):
    if package == SKIMAGE:
        return os.path.join(package_dir("skimage"), path)
    if package == SKLEARN:
        return os.path.join(package_dir("sklearn"), path)
    return os.path.join(root, path.lstrip("/"))


def load_exr(path):
    import OpenEXR

    with OpenEXR.File(path) as f:
        return np.asarray(f.channels()["RGB"].pixels, dtype=np.float32)


def perspective_view(pano, yaw_deg, pitch_deg, w, h, hfov_deg=90.0):
    """Bilinearly sample a pinhole view out of an equirectangular panorama."""
    ph, pw, _ = pano.shape
    f = (w / 2) / np.tan(np.radians(hfov_deg) / 2)
    x, y = np.meshgrid((np.arange(w) - (w - 1) / 2) / f, -(np.arange(h) - (h - 1) / 2) / f)
    z = np.ones_like(x)
    p = np.radians(pitch_deg)
    y, z = y * np.cos(p) + z * np.sin(p), -y * np.sin(p) + z * np.cos(p)
    lon = np.arctan2(x, z) + np.radians(yaw_deg)
    lat = np.arctan2(y, np.hypot(x, z))
    u = (lon / (2 * np.pi) + 0.5) % 1.0 * pw - 0.5
    v = (0.5 - lat / np.pi) * ph - 0.5
    u0 = np.floor(u).astype(int)
    v0 = np.clip(np.floor(v).astype(int), 0, ph - 2)
    du = (u - u0)[..., None]
    dv = np.clip(v - v0, 0, 1)[..., None]
    u0 %= pw
    u1 = (u0 + 1) % pw
    top = pano[v0, u0] * (1 - du) + pano[v0, u1] * du
    bot = pano[v0 + 1, u0] * (1 - du) + pano[v0 + 1, u1] * du
    return top * (1 - dv) + bot * dv


def tonemap(img, key=0.18):
    """Reinhard global operator, then sRGB encoding."""
    lum = 0.2126 * img[..., 0] + 0.7152 * img[..., 1] + 0.0722 * img[..., 2]
    logavg = np.exp(np.mean(np.log(np.maximum(lum, 0) + 1e-4)))
    x = np.maximum(img, 0) * (key / logavg)
    x = np.clip(x / (1 + x) * 1.6, 0, 1)
    srgb = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return Image.fromarray((srgb * 255 + 0.5).astype(np.uint8), "RGB")


def load_image(src):
    im = Image.open(src)
    im = ImageOps.exif_transpose(im)
    return im.convert("RGB")


def shrink(im):
    w, h = im.size
    s = min(w, h)
    if s <= SHORT_SIDE:
        return im
    if w <= h:
        size = (SHORT_SIDE, round(h * SHORT_SIDE / w))
    else:
        size = (round(w * SHORT_SIDE / h), SHORT_SIDE)
    return im.resize(size, Image.LANCZOS, reducing_gap=3.0)


def make(entry, root):
    name, _what, package, path, _author, _lic, _note, how = entry
    src = source_path(package, path, root)
    if not os.path.exists(src):
        sys.exit(f"missing source for {name}: {src}")
    if how[0] == "view":
        _, yaw, pitch, w, h = how
        return tonemap(perspective_view(load_exr(src), yaw, pitch, w, h))
    im = load_image(src)
    l, t, r, b = how[1]
    w, h = im.size
    im = im.crop((round(l * w), round(t * h), round(r * w), round(b * h)))
    if how[0] == "square":
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return shrink(im)


def save(im, path):
    im.info = {}  # drop ICC profiles, comments and other metadata from the sources
    if path.endswith(".png"):
        im.save(path, "PNG", optimize=True)
    else:
        im.save(path, "JPEG", quality=JPEG_QUALITY, optimize=True)


LICENSE_HEADER = """\
# Demo images: sources and licences

Small natural photos for `examples --images testdata/demo_images` and `saliency`.
All of them come from files shipped inside PyPI or Debian packages and are
rebuilt by `make_demo_images.py` (which lists the packages and versions used).

Changes made to every image: cropped as noted, resized so that the short side
is at most 256 px, re-encoded as JPEG (quality 85) or PNG, metadata dropped.
The `blender-data` images are perspective views rendered from 1024x512 HDR
panoramas and tone-mapped. The CC-BY images may be redistributed with the
attribution given here (author, licence, this note of changes); licence texts:
CC-BY-4.0 <https://creativecommons.org/licenses/by/4.0/>,
CC-BY-2.0 <https://creativecommons.org/licenses/by/2.0/>,
CC0-1.0 <https://creativecommons.org/publicdomain/zero/1.0/>
(also in Debian's /usr/share/common-licenses/CC0-1.0).

Where the licence was verified:
- scikit-image: the docstring of the matching function in `skimage/data/_fetchers.py`.
- palapeli-data: the `.desktop` file beside each JPEG in
  /usr/share/palapeli/collection/ (keys X-KDE-PluginInfo-Author, -License, -Website);
  Debian's copyright file for the package does not list the images one by one.
- lomiri-wallpapers-16.04: /usr/share/doc/lomiri-wallpapers-16.04/copyright
  (per-file stanzas `Files: 16.04/NAME`).
- scikit-learn: `sklearn/datasets/images/README.txt`.
- blender-data: /usr/share/blender/datafiles/studiolights/world/license.txt.

| file | shows | source package: file | author | licence | notes |
| --- | --- | --- | --- | --- | --- |
"""


def write_licenses(out_dir, made):
    lines = [LICENSE_HEADER]
    for entry in IMAGES:
        name, what, package, path, author, lic, note, how = entry
        size = made.get(name)
        cut = ""
        if how[0] in ("crop", "square") and how[1] != (0.0, 0.0, 1.0, 1.0):
            cut = "crop (l,t,r,b) = " + ", ".join(f"{v:.2f}" for v in how[1])
            if how[0] == "square":
                cut += ", then centre square"
        elif how[0] == "view":
            cut = f"view yaw {how[1]}, pitch {how[2]}, 90 deg hfov"
        notes = "; ".join(x for x in (note, cut) if x)
        dims = f" ({size[0]}x{size[1]})" if size else ""
        lines.append(f"| {name}{dims} | {what} | {package}: {path} | {author} | {lic} | {notes} |\n")
    with open(os.path.join(out_dir, "LICENSES.md"), "w", encoding="utf-8") as f:
        f.writelines(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="/", help="where the Debian packages are installed or unpacked (default /)")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="output folder (default: this script's folder)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    made = {}
    for entry in IMAGES:
        im = make(entry, args.root)
        save(im, os.path.join(args.out, entry[0]))
        made[entry[0]] = im.size
        print(f"{entry[0]:28s} {im.size[0]}x{im.size[1]}")
    write_licenses(args.out, made)


if __name__ == "__main__":
    main()
