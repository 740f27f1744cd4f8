#!/usr/bin/env python3
"""enas's zero-cost proxies against an independent PyTorch computation, on the same weights.

Rebuilds the NAS-Bench-201 network in plain PyTorch the way the benchmark's own code writes it
(`TinyNetwork` / `InferCell` / `ResNetBasicblock` / `ReLUConvBN`, avg_pool_3x3 =
AvgPool2d(3, 1, 1, count_include_pad=False), skip_connect = Identity, none = x.mul(0.)), loads
each architecture's initial weights from the dump by name (every dumped tensor must be used and
every model tensor given), and recomputes the proxies as foundation/zero-cost-nas (and Mellor et
al. for naswot) compute them:
  synflow   bn=False copy, all parameters abs, f64, ones input (1,3,32,32), sum(out).backward(),
            sum over Conv2d/Linear of |w * grad|
  grad_norm sum over Conv2d/Linear of ||dL/dw||_2, L = mean cross-entropy, BatchNorm training mode
  snip      sum over Conv2d/Linear of |w * dL/dw|
  jacob_cov J = d sum(out) / d images, C = corrcoef(J), v = eig(C), -sum(log(v+k) + 1/(v+k)), k=1e-5
  naswot    hooks on every nn.ReLU: c = (input > 0), K += c c^T + (1-c)(1-c)^T, slogdet(K)[1]
  params    numel of every parameter (BatchNorm scale/shift included, running stats not)
  flops     multiply-adds of every Conv2d and the Linear for one 32x32 image (forward hooks)
and prints enas's value, PyTorch's and their difference; exits 1 if any is out of tolerance.

Tolerances: params/flops are integers and must match exactly (--exact-tol 0); synflow, grad_norm,
snip and naswot relative --tol 1e-3. jacob_cov is compared absolutely (--jc-atol 1e-3): both sides
run in f32, which moves the score by up to ~1e-4 from the f64 one (`f64 gap`: this script's f32
score against its own f64 score; enas's gap is similar); 1e-3 covers that noise on both sides
while a wrong op or formula moves the score by O(0.1).

Make the dump, then run the check (from the repository root):
    RAYON_NUM_THREADS=2 cargo run --release -p enas-child --example proxy_dump -- /tmp/exp/dump
    ~/torchref/bin/python scripts/proxies-vs-pytorch.py [--dump /tmp/exp/dump] [--tol 1e-3]
"""
import argparse, copy, json, os, re, sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file

# ---- the NAS-Bench-201 network, as the benchmark's code defines it -------------------------------

class ReLUConvBN(nn.Module):
    def __init__(self, c_in, c_out, k, stride, padding, bn):
        super().__init__()
        layers = [nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, k, stride, padding, bias=False)]
        self.op = nn.Sequential(*layers, *([nn.BatchNorm2d(c_out)] if bn else []))

    def forward(self, x):
        return self.op(x)

class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)

def make_op(name, c, bn):
    return {"none": lambda: Zero(), "skip_connect": lambda: nn.Identity(),
            "avg_pool_3x3": lambda: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
            "nor_conv_1x1": lambda: ReLUConvBN(c, c, 1, 1, 0, bn),
            "nor_conv_3x3": lambda: ReLUConvBN(c, c, 3, 1, 1, bn)}[name]()

def parse_arch(arch):
    """'|a~0|+|b~0|c~1|+|...|' -> [[(op, from), ...] for node 1, 2, 3]."""
    return [[(e.split("~")[0], int(e.split("~")[1])) for e in node.strip("|").split("|")]
            for node in arch.split("+")]

class InferCell(nn.Module):
    def __init__(self, genotype, c, bn):
        super().__init__()
        self.layers, self.node_ix, self.node_in = nn.ModuleList(), [], []
        for node in genotype:
            self.node_ix.append([len(self.layers) + i for i in range(len(node))])
            self.node_in.append([src for _, src in node])
            self.layers.extend(make_op(op, c, bn) for op, _ in node)

    def forward(self, x):
        nodes = [x]
        for ix, srcs in zip(self.node_ix, self.node_in):
            nodes.append(sum(self.layers[i](nodes[s]) for i, s in zip(ix, srcs)))
        return nodes[-1]

class ResNetBasicblock(nn.Module):
    def __init__(self, c_in, c_out, bn):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, bn)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, bn)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2, 0), nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False))

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))

class TinyNetwork(nn.Module):
    def __init__(self, arch, bn=True, C=16, N=5, classes=10):
        super().__init__()
        genotype = parse_arch(arch)
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), *([nn.BatchNorm2d(C)] if bn else []))
        chans = [C] * N + [2 * C] * (N + 1) + [4 * C] * (N + 1)
        reduce = [False] * N + [True] + [False] * N + [True] + [False] * N
        self.cells, c_prev = nn.ModuleList(), C
        for c, red in zip(chans, reduce):
            self.cells.append(ResNetBasicblock(c_prev, c, bn) if red else InferCell(genotype, c, bn))
            c_prev = c
        self.lastact = nn.Sequential(*([nn.BatchNorm2d(c_prev)] if bn else []), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, classes)

    def forward(self, x):
        h = self.stem(x)
        for cell in self.cells:
            h = cell(h)
        return self.classifier(self.global_pooling(self.lastact(h)).flatten(1))

EDGE_INDEX = {(1, 0): 0, (2, 0): 1, (2, 1): 2, (3, 0): 3, (3, 1): 4, (3, 2): 5}  # arch-string order

def torch_name(name, bn):
    """enas's parameter name -> this model's (None: a BatchNorm tensor of the bn=False model)."""
    bn_idx = {"conv": "1", "bn": "2"}
    rules = [(r"stem\.conv\.(.*)", lambda m: f"stem.0.{m[1]}"),
             (r"stem\.bn\.(.*)", lambda m: f"stem.1.{m[1]}" if bn else None),
             (r"cells\.(\d+)\.edge(\d)<-(\d)\.(conv|bn)\.(.*)", lambda m: None if m[4] == "bn" and not bn else
              f"cells.{m[1]}.layers.{EDGE_INDEX[(int(m[2]), int(m[3]))]}.op.{bn_idx[m[4]]}.{m[5]}"),
             (r"cells\.(\d+)\.(conv_a|conv_b)\.(conv|bn)\.(.*)",
              lambda m: None if m[3] == "bn" and not bn else f"cells.{m[1]}.{m[2]}.op.{bn_idx[m[3]]}.{m[4]}"),
             (r"cells\.(\d+)\.downsample\.weight", lambda m: f"cells.{m[1]}.downsample.1.weight"),
             (r"lastact\.bn\.(.*)", lambda m: f"lastact.0.{m[1]}" if bn else None),
             (r"classifier\.(weight|bias)", lambda m: m[0])]
    for pattern, fn in rules:
        m = re.fullmatch(pattern, name)
        if m:
            return fn(m)
    raise KeyError(f"unknown enas tensor name {name!r}")

def load_network(arch, tensors, bn):
    """The network for `arch` with enas's weights; fails if a tensor is unused or missing."""
    net = TinyNetwork(arch, bn)
    state = net.state_dict()
    wanted = {k for k in state if not k.endswith("num_batches_tracked")}
    given = {}
    for name, t in tensors.items():
        target = torch_name(name, bn)
        if target is None:
            continue  # BatchNorm of the bn=False copy: intentionally unused
        if target not in state or state[target].shape != t.shape:
            sys.exit(f"{arch}: dump tensor {name} -> {target} matches no model tensor of that shape")
        given[target] = t
    if set(given) != wanted:
        sys.exit(f"{arch}: model tensors missing from the dump: {sorted(wanted - set(given))}")
    net.load_state_dict(given, strict=False)
    return net

# ---- the proxies, as zero-cost-nas / Mellor et al. compute them ----------------------------------

def scored_layers(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]

def synflow(net_nobn):
    net = copy.deepcopy(net_nobn).double().train()
    with torch.no_grad():
        for p in net.state_dict().values():
            p.abs_()
    net.zero_grad()
    torch.sum(net(torch.ones(1, 3, 32, 32, dtype=torch.float64))).backward()
    return sum(float((l.weight * l.weight.grad).abs().sum().detach()) for l in scored_layers(net) if l.weight.grad is not None)

def ce_grads(net, x, y):
    net = copy.deepcopy(net).train()
    F.cross_entropy(net(x), y).backward()
    return [(l.weight, l.weight.grad) for l in scored_layers(net) if l.weight.grad is not None]

def grad_norm(net, x, y):
    return sum(float(g.norm()) for _, g in ce_grads(net, x, y))

def snip(net, x, y):
    return sum(float((w * g).abs().sum().detach()) for w, g in ce_grads(net, x, y))

def jacobian(net, x):
    net = copy.deepcopy(net).train()
    x = x.clone().requires_grad_(True)
    y = net(x)
    y.backward(torch.ones_like(y))  # = d sum(out) / d x
    return x.grad.detach().reshape(x.shape[0], -1).numpy()

def jacob_cov_score(jac):
    v, k = np.linalg.eig(np.corrcoef(jac))[0], 1e-5
    return float(np.real(-np.sum(np.log(v + k) + 1.0 / (v + k))))

def naswot(net, x):
    net = copy.deepcopy(net).train()
    K = np.zeros((x.shape[0], x.shape[0]))

    def hook(module, inp, out):
        c = (inp[0].detach().reshape(inp[0].shape[0], -1) > 0).float()
        K[:] += (c @ c.t() + (1.0 - c) @ (1.0 - c).t()).double().numpy()

    [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(x)
    return float(np.linalg.slogdet(K)[1])

def flops(net):
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            total[0] += out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        else:
            total[0] += m.in_features * m.out_features

    net = copy.deepcopy(net).eval()
    [m.register_forward_hook(hook) for m in scored_layers(net)]
    with torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    return float(total[0])

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump", default="/tmp/exp/dump", help="proxy_dump's output directory")
    ap.add_argument("--tol", type=float, default=1e-3, help="relative tolerance: synflow, grad_norm, snip, naswot")
    ap.add_argument("--exact-tol", type=float, default=0.0, help="relative tolerance: params, flops")
    ap.add_argument("--jc-atol", type=float, default=1e-3, help="absolute tolerance: jacob_cov")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    batch = load_file(os.path.join(a.dump, "batch.safetensors"))
    x, y = batch["images"].float(), batch["labels"].long()
    rows = json.load(open(os.path.join(a.dump, "scores.json")))
    bad = 0
    print(f"{'proxy':<10} {'enas':>24} {'pytorch':>24} {'diff':>10}  kind  ok")
    for k, row in enumerate(rows):
        tensors = load_file(os.path.join(a.dump, row["weights"]))
        net, net_nobn = load_network(row["arch"], tensors, True), load_network(row["arch"], tensors, False)
        jc64 = jacob_cov_score(jacobian(copy.deepcopy(net).double(), x.double()))
        ours = {"synflow": synflow(net_nobn), "grad_norm": grad_norm(net, x, y), "snip": snip(net, x, y),
                "jacob_cov": jacob_cov_score(jacobian(net, x)), "naswot": naswot(net, x),
                "params": float(sum(p.numel() for p in net.parameters())), "flops": flops(net)}
        print(f"[{k}] {row['arch']}")
        for name, value in ours.items():
            theirs = float(row[name])
            if name == "jacob_cov":
                diff, kind, tol = abs(theirs - value), "abs", a.jc_atol
            else:
                diff, kind = abs(theirs - value) / max(abs(value), 1e-30), "rel"
                tol = a.exact_tol if name in ("params", "flops") else a.tol
            ok = diff <= tol  # NaN fails
            bad += not ok
            extra = f"  (f64 gap {abs(jc64 - value):.1e})" if name == "jacob_cov" else ""
            print(f"  {name:<10} {theirs:>24.10g} {value:>24.10g} {diff:>10.2e}  {kind}  {'ok' if ok else 'FAIL'}{extra}")
    print("all proxies agree" if bad == 0 else f"{bad} value(s) out of tolerance")
    sys.exit(1 if bad else 0)

if __name__ == "__main__":
    main()
