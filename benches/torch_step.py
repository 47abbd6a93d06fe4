"""The PyTorch baseline of `cargo xtask bench`: the same optimisation step, written the way
Lucent writes it, timed on the same configurations.

One step: Fourier 1/f parameterization (torch.fft.irfftn, ortho, / 4) -> decorrelated colour ->
sigmoid -> pad 12 (0.5), jitter 8, scale {0.90..1.10}, rotate {-10..10, 0 weighted 6/26},
jitter 4 -> (255 x - 127) / 128 -> EfficientNet-Lite0 up to the layer (the ONNX graph cut at
that tensor with onnx.utils.extract_model and converted with onnx2torch) -> the mean of channel
b for image b -> backward -> Adam (lr 0.05).

Needs torch, onnx and onnx2torch. Run from the repository root:

    python3 benches/torch_step.py --device cuda
    python3 benches/torch_step.py --device cpu --threads 2 --quick
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import onnx
import onnx.utils
import torch
import torch.nn.functional as F
from onnx2torch import convert

MODEL = os.path.join(os.path.dirname(__file__), "..", "models", "efficientnet_lite0.onnx")
LAYERS = ["blocks.1", "blocks.5", "head.relu6"]
COLOR = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
COLOR = COLOR / np.max(np.linalg.norm(COLOR, axis=0))


def truncated_model(layer, device):
    """EfficientNet-Lite0 from its input to the tensor `layer`, frozen, on `device`."""
    graph = onnx.load(MODEL).graph
    inputs = [i.name for i in graph.input if i.name not in {t.name for t in graph.initializer}]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cut.onnx")
        onnx.utils.extract_model(MODEL, path, inputs, [layer])
        model = convert(path)
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class FourierImage:
    """Lucent's fft_image: a 1/f-scaled spectrum, decorrelated colour, sigmoid."""

    def __init__(self, batch, size, device):
        fy = np.fft.fftfreq(size)[:, None]
        fx = np.fft.fftfreq(size)[: size // 2 + 1]
        freqs = np.sqrt(fx * fx + fy * fy)
        scale = 1.0 / np.maximum(freqs, 1.0 / size)
        self.scale = torch.tensor(scale, dtype=torch.float32, device=device)[None, None, ..., None]
        shape = (batch, 3) + freqs.shape + (2,)
        self.spectrum = (torch.randn(*shape, device=device) * 0.01).requires_grad_(True)
        self.color = torch.tensor(COLOR, device=device)
        self.size = size

    def image(self):
        scaled = torch.view_as_complex(self.scale * self.spectrum)
        image = torch.fft.irfftn(scaled, s=(self.size, self.size), norm="ortho") / 4.0
        image = (image.permute(0, 2, 3, 1) @ self.color.T).permute(0, 3, 1, 2)
        return torch.sigmoid(image)


def jitter(image, d):
    dx, dy = np.random.choice(d, 2)
    h, w = image.shape[-2:]
    return image[:, :, dx : dx + h - d, dy : dy + w - d]


def random_scale(image):
    scale = np.random.choice([1 + (i - 5) / 50.0 for i in range(11)])
    h, w = image.shape[-2:]
    size = [int(np.ceil(scale * h)), int(np.ceil(scale * w))]
    scaled = F.interpolate(image, size=size, mode="bilinear", align_corners=True)
    pad_y, pad_x = max(0, int(np.ceil((h - size[0]) / 2))), max(0, int(np.ceil((w - size[1]) / 2)))
    return F.pad(scaled, [pad_x, pad_x, pad_y, pad_y])


def random_rotate(image):
    angle = np.deg2rad(np.random.choice(list(range(-10, 11)) + 5 * [0]))
    cos, sin = float(np.cos(angle)), float(np.sin(angle))
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], device=image.device)
    theta = theta[None].expand(image.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", align_corners=False)


def transform(image):
    image = F.pad(image, [12] * 4, mode="constant", value=0.5)
    image = jitter(image, 8)
    image = random_scale(image)
    image = random_rotate(image)
    return jitter(image, 4)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(model, batch, size, steps, device):
    """Median wall time of `steps` steps after one warm-up step, synchronised after each."""
    param = FourierImage(batch, size, device)
    optimizer = torch.optim.Adam([param.spectrum], lr=0.05)
    index = torch.arange(batch, device=device)
    times = []
    for step in range(steps + 1):
        started = time.perf_counter()
        optimizer.zero_grad()
        x = transform(param.image()) * 255.0
        activation = model((x - 127.0) / 128.0)
        loss = -activation[index, index].mean(dim=(1, 2)).sum()
        loss.backward()
        optimizer.step()
        sync(device)
        if step > 0:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="128 px; batch 1 and 16")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    np.random.seed(0)
    torch.manual_seed(0)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__} on {name}")

    n = 4096 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(6):
        started = time.perf_counter()
        a @ a
        sync(device)
        best = min(best, time.perf_counter() - started)
    print(f"dense matmul {n}x{n}x{n} (float32, default precision): {2 * n**3 / best / 1e9:.1f} GFLOP/s")

    sizes = [128] if args.quick else [128, 224]
    batches = [1, 16] if args.quick else [1, 4, 16]
    print(f"{'layer':<11} {'px':>5} {'batch':>5} {'ms/step':>10} {'ms/channel':>12}")
    for layer in LAYERS:
        model = truncated_model(layer, device)
        for size in sizes:
            for batch in batches:
                seconds = time_steps(model, batch, size, args.steps, device)
                print(
                    f"{layer:<11} {size:>5} {batch:>5} {seconds * 1e3:>10.1f} {seconds * 1e3 / batch:>12.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
