"""Training throughput of igmlib's one loop: steps per second for representative models.

Usage:
    python benchmarks/bench_fit.py [--steps 300] [--device cpu|cuda|mps]

Prints a markdown table (model, data, batch, steps/s, peak CUDA memory when on a GPU) to paste
into benchmarks/RESULTS.md with the device named.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch

import igmlib as igm


def cases(device):
    ring = igm.data.ring()
    digits = igm.data.digits().x
    yield "GAN, MLP 2-128-128", "8-ring", 256, ring, igm.models.GAN(igm.nets.MLP(2, 2), igm.nets.MLP(2, 1), latent_dim=2)
    yield "GAN, conv 8x8", "digits", 128, digits, igm.models.GAN(igm.nets.ConvGenerator(32), igm.nets.ConvDiscriminator(), latent_dim=32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    if args.device:
        os.environ["IGM_DEVICE"] = args.device
    device = igm.device()
    print(f"device: {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("| model | data | batch | steps/s | peak GPU memory |")
    print("|---|---|---|---|---|")
    for name, data_name, batch, data, model in cases(device):
        model = model.to(device)
        igm.fit(model, data, steps=20, batch_size=batch, progress=False)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        igm.fit(model, data, steps=args.steps, batch_size=batch, progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize()
        rate = args.steps / (time.perf_counter() - start)
        mem = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if device.type == "cuda" else "n/a"
        print(f"| {name} | {data_name} | {batch} | {rate:.0f} | {mem} |", flush=True)


if __name__ == "__main__":
    main()
