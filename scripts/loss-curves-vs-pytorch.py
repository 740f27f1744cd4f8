#!/usr/bin/env python3
"""Loss curves of the ENAS supernet step, enas against the PyTorch reference, on the same data.

Both train ENAS's published arc (6 layers, 20 channels, 5 nodes, batch 64 by default) on the same
deterministic batch (x[i] = sin(0.37 i + 0.1), label n % 10) with the same optimiser (SGD
nesterov 0.05, momentum 0.9, weight decay 1e-4, clip 5), for --seeds different initialisations
each. The two cannot share an initialisation (different RNGs), so the check is statistical: per
step, the difference of the two means against the spread over seeds. They start from the same
distribution: enas initialises convolutions He-normal, as ENAS does, while the reference keeps
PyTorch's default (uniform, a third of the variance), so this script re-initialises the
reference's convolutions He-normal (fan-in) before training.

    ~/torchref/bin/python scripts/loss-curves-vs-pytorch.py [--steps 15] [--seeds 3]
"""
import argparse, json, math, os, statistics, subprocess, sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "bench"))
import torch_enas_micro as ref  # noqa: E402

ARC = "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1"


def torch_curve(seed, steps, a):
    torch.manual_seed(seed)
    torch.set_num_threads(a.threads)
    net = ref.Supernet(3, 10, 6, 20, 5)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    n = a.batch * 3 * 32 * 32
    x = torch.tensor([math.sin(0.37 * i + 0.1) for i in range(n)], dtype=torch.float32).reshape(a.batch, 3, 32, 32)
    y = torch.tensor([i % 10 for i in range(a.batch)])
    arc = [int(t) for t in ARC.split()]
    out = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x, arc[:20], arc[20:]), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        out.append(loss.item())
    return out


def enas_curve(seed, steps, a):
    cmd = [os.path.join(HERE, "..", "target", "release", "enas"), "bench-step", "--curve", "--arc", ARC,
           "--steps", str(steps), "--warmup", "0", "--batch", str(a.batch), "--set", "child.layers=6",
           "--set", "child.channels=20", "--set", "child.nodes=5", "--set", f"seed={seed}"]
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    return json.loads(subprocess.check_output(cmd, env=env))["losses"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    e = [enas_curve(s, a.steps, a) for s in range(a.seeds)]
    t = [torch_curve(s, a.steps, a) for s in range(a.seeds)]
    print(f"{'step':>4} {'enas mean':>10} {'(std)':>8} {'torch mean':>11} {'(std)':>8} {'diff/spread':>12}")
    worst = 0.0
    for k in range(a.steps):
        ek, tk = [c[k] for c in e], [c[k] for c in t]
        em, tm = statistics.mean(ek), statistics.mean(tk)
        es, ts = statistics.stdev(ek), statistics.stdev(tk)
        spread = math.sqrt((es ** 2 + ts ** 2) / a.seeds)
        z = (em - tm) / spread if spread > 0 else float("inf")
        worst = max(worst, abs(z))
        print(f"{k + 1:>4} {em:>10.4f} {es:>8.4f} {tm:>11.4f} {ts:>8.4f} {z:>12.2f}")
    print(f"largest |difference of means| / standard error of the difference: {worst:.2f} "
          f"({a.seeds} seeds each; values within about 3 are within seed noise)")


if __name__ == "__main__":
    main()
