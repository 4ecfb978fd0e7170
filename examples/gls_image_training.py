"""An image-training job consuming a radlabel GLS manifest: a few CPU steps on random images.

Run: `python examples/gls_image_training.py MANIFEST.parquet [--view chexpert14] [--steps 6]`.
The images are random tensors (no image data ships here); everything else is what a real job
does: targets and masks from the manifest (`labeler.manifest.read_targets`), |u| = 3 labels only
during warm-up epochs, not-mentioned labels ignored (or made negatives), and the GLS loss
(`distill.losses.gls_loss`) on one logit per label.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from distill.losses import gls_loss
from labeler.manifest import read_targets
from labeler.schema import load_schema


def main(argv: list[str] | None = None) -> list[float]:
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--view", default=None, help="a view written into the manifest, e.g. chexpert14")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--policy", choices=["ignore", "negative"], default="ignore")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    schema = load_schema()
    warm = read_targets(args.manifest, schema, args.view, args.policy, warmup=True)
    full = read_targets(args.manifest, schema, args.view, args.policy, warmup=False)
    n, labels = full.target.shape
    images = torch.randn(n, 1, 64, 64)  # stand-ins for the reports' chest X-rays
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 5, stride=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 16, labels),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for step in range(args.steps):
        src = warm if step < args.warmup_steps else full
        idx = torch.randint(0, n, (min(16, n),))
        target = torch.as_tensor(src.target[idx.numpy()], dtype=torch.float32)
        mask = torch.as_tensor(src.mask[idx.numpy()], dtype=torch.float32)
        loss = gls_loss(model(images[idx]), target, mask)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        losses.append(float(loss))
        print(
            f"step {step + 1}: GLS loss {losses[-1]:.4f} ({'warm-up' if step < args.warmup_steps else 'all'})"
        )
    return losses


if __name__ == "__main__":
    main()
