#!/usr/bin/env python3
"""enas's DARTS search network (`DartsSupernet`, `DartsPath::Mixed`) against PyTorch's reference.

Usage (from the repository root):
    cargo run --release -p enas-child --example darts_dump -- /tmp/dd && ~/torchref/bin/python scripts/darts-vs-pytorch.py /tmp/dd
    (PC-DARTS's partial channels, K = 2: `... darts_dump -- /tmp/dd 1e-3 4 5 2`; the reference's
    MixedOp is then PC-DARTS's, below)

The reference is `Network` of ../shared/bench/torch_darts_search.py (imported by path, not
copied). enas creates its weights in the order PyTorch registers the reference's parameters, so
the dump's weights (weights.safetensors, order.json) are copied into
`[p for n, p in model.named_parameters() if not n.startswith("alpha")]` by position, every shape
checked (enas stores 1x1 convolutions as (c_out, c_in), torch as (c_out, c_in, 1, 1)). α comes
from input.safetensors (normal rows, then reduce rows). One training-mode forward on the dump's
batch, mean cross-entropy, backward; compared with enas's out.json / grads.safetensors:
logits, loss, dL/dα (normal, reduce) and dL/dw of every weight (overall, per op kind and stride,
per tensor). Differences are printed as max abs and max abs relative to the reference's max
magnitude; exits 1 above --tol (logits, loss) or --grad-tol (gradients).

The reference runs in float64 by default, so the differences are enas's float32 error alone:
PyTorch's own float32 CPU backward drifts from float64 by up to ~1e-3 relative on deeper shapes
(8 layers), which it also prints, unchecked, as the noise floor. --ref-dtype float32 compares
against PyTorch float32 instead.
"""
import argparse, importlib.util, json, os, re, struct, sys

import numpy as np
import torch
import torch.nn.functional as F

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench", "torch_darts_search.py")
if not os.path.exists(REF):
    REF = "/work/shared/bench/torch_darts_search.py"


def load_safetensors(path):
    """A minimal safetensors reader (F32/U32/I64), so the check needs only numpy and torch."""
    dtypes = {"F32": np.float32, "U32": np.uint32, "I64": np.int64, "F64": np.float64}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def load_reference():
    spec = importlib.util.spec_from_file_location("torch_darts_search", REF)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def diff(ours, ref):
    ours, ref = torch.as_tensor(ours, dtype=torch.float64), torch.as_tensor(ref, dtype=torch.float64)
    d = (ours - ref).abs().max().item() if ref.numel() else 0.0
    scale = ref.abs().max().item() if ref.numel() else 0.0
    return d, d / scale if scale > 0 else (0.0 if d == 0 else float("inf")), scale


def group_of(name, reduction_cells):
    """A weight's kind: stem, classifier, preprocess, or `op@stride` for an edge op."""
    m = re.match(r"cells\.(\d+)\.(preprocess\d)\.", name)
    if m:
        fr = ".conv_" in name
        return f"{m.group(2)}({'factorized' if fr else 'relu-conv-bn'})"
    m = re.match(r"cells\.(\d+)\.edges\.(\d+)\.ops\.([a-z_0-9]+)\.", name)
    if m:
        cell, e = int(m.group(1)), int(m.group(2))
        node = 0
        while (node + 1) * (node + 4) // 2 <= e:
            node += 1
        j = e - node * (node + 3) // 2
        stride = 2 if cell in reduction_cells and j < 2 else 1
        op = "skip_connect(factorized)" if m.group(3) == "identity" else m.group(3)
        return f"{op}@s{stride}"
    return name.split(".")[0]


def use_partial_channels(mod, k):
    """PC-DARTS's MixedOp (Xu et al. 2020, model_search.py), written from its published code: the
    ops on the first C/k channels, the rest passed (max-pooled 2x2 when the ops reduce), then
    channel_shuffle(cat, k); patched into the reference network before it is built."""
    import torch.nn as nn

    def channel_shuffle(x, groups):
        b, c, h, w = x.shape
        return x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous().view(b, c, h, w)

    class PCMixedOp(nn.Module):
        def __init__(self, c, stride):
            super().__init__()
            self.mp = nn.MaxPool2d(2, 2)
            self.k = k
            self.ops = nn.ModuleList(mod.make_op(p, c // k, stride) for p in mod.PRIMITIVES)

        def forward(self, x, w):
            dim2 = x.shape[1]
            xtemp, xtemp2 = x[:, : dim2 // self.k], x[:, dim2 // self.k :]
            temp1 = sum(wi * op(xtemp) for wi, op in zip(w, self.ops))
            if temp1.shape[2] == x.shape[2]:
                ans = torch.cat([temp1, xtemp2], dim=1)
            else:
                ans = torch.cat([temp1, self.mp(xtemp2)], dim=1)
            return channel_shuffle(ans, self.k)

    mod.MixedOp = PCMixedOp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump", nargs="?", default="/tmp/dd")
    ap.add_argument("--tol", type=float, default=1e-4, help="relative tolerance for logits and loss")
    ap.add_argument("--grad-tol", type=float, default=1e-3, help="relative tolerance for gradients")
    ap.add_argument("--ref-dtype", default="float64", choices=("float64", "float32"),
                    help="the reference's precision (float64: enas's float32 error alone)")
    ap.add_argument("--verbose", action="store_true", help="print every weight's gradient difference")
    a = ap.parse_args()
    torch.set_num_threads(4)
    mod = load_reference()
    out = json.load(open(os.path.join(a.dump, "out.json")))
    order = json.load(open(os.path.join(a.dump, "order.json")))
    weights = load_safetensors(os.path.join(a.dump, "weights.safetensors"))
    grads = load_safetensors(os.path.join(a.dump, "grads.safetensors"))
    inp = load_safetensors(os.path.join(a.dump, "input.safetensors"))
    s = out["shape"]
    k = out.get("partial", 1)
    if k > 1:
        use_partial_channels(mod, k)

    def reference(dtype):
        """The reference's logits, loss, dL/dα (normal, reduce) and weight gradients at `dtype`."""
        torch.manual_seed(0)
        model = mod.Network(s["channels"], s["classes"], s["layers"], s["nodes"]).to(dtype)
        named = [(n, p) for n, p in model.named_parameters() if not n.startswith("alpha")]
        if len(named) != len(order):
            sys.exit(f"torch has {len(named)} weight tensors, the dump {len(order)}")
        with torch.no_grad():
            for (tn, p), (en, shape) in zip(named, order):
                w = weights[en]
                if list(w.shape) != shape:
                    sys.exit(f"{en}: order.json says {shape}, the safetensors {list(w.shape)}")
                if w.dim() == 2 and p.dim() == 4 and p.shape[2:] == (1, 1):
                    w = w.reshape(*w.shape, 1, 1)
                if w.shape != p.shape:
                    sys.exit(f"shape mismatch at {tn} {tuple(p.shape)} <- {en} {tuple(w.shape)}")
                p.copy_(w)
            e = model.alpha_normal.shape[0]
            model.alpha_normal.copy_(inp["alpha"][:e])
            model.alpha_reduce.copy_(inp["alpha"][e:])
        if sum(p.numel() for _, p in named) != out["weights"]:
            sys.exit(f"torch has {sum(p.numel() for _, p in named)} weights, enas {out['weights']}")
        model.train()
        logits = model(inp["x"].to(dtype))
        loss = F.cross_entropy(logits, inp["y"].long())
        loss.backward()
        # No normal (reduction) cell: that α gets no gradient in torch, zeros in enas.
        ga = [a.grad if a.grad is not None else torch.zeros_like(a) for a in model.alphas()]
        return model, named, logits.detach(), loss.detach().reshape(1), ga, [p.grad for _, p in named]

    ref_dtype = getattr(torch, a.ref_dtype)
    model, named, logits, loss, ga_ref, g_ref = reference(ref_dtype)
    e = model.alpha_normal.shape[0]
    failed = []

    def report(label, ours, ref, tol):
        d, r, scale = diff(ours, ref)
        bad = tol is not None and not (r <= tol)
        print(f"  {label:<38} max|ref| {scale:10.3e}  max abs {d:10.3e}  rel {r:10.3e}{'  FAIL' if bad else ''}")
        if bad:
            failed.append(label)

    def flat(ts):
        return torch.cat([t.flatten().to(torch.float64) for t in ts])

    print(f"shape {s}, α scale {out['alpha_scale']}, {out['weights']} weights in {len(named)} tensors (shapes match)")
    print(f"enas (float32) against the reference in {a.ref_dtype}:")
    ga = torch.tensor(out["grad_alpha"])
    report("logits", out["logits"], logits, a.tol)
    report("loss", [out["loss"]], loss, a.tol)
    report("dL/d alpha_normal", ga[:e], ga_ref[0], a.grad_tol)
    report("dL/d alpha_reduce", ga[e:], ga_ref[1], a.grad_tol)
    report("dL/dw (all weights, one max)", flat(grads[en] for en, _ in order), flat(g_ref), a.grad_tol)
    if ref_dtype == torch.float64:
        # Context: the reference's own float32 error (not checked; its CPU backward can be the noisier side).
        _, _, l32, s32, ga32, g32 = reference(torch.float32)
        print("PyTorch float32 against float64 (noise floor, not checked):")
        report("logits", l32, logits, None)
        report("loss", s32, loss, None)
        report("dL/d alpha_normal", ga32[0], ga_ref[0], None)
        report("dL/d alpha_reduce", ga32[1], ga_ref[1], None)
        report("dL/dw (all weights, one max)", flat(g32), flat(g_ref), None)
    reduction_cells = {i for i, c in enumerate(model.cells) if c.reduction}
    groups, worst = {}, []
    for (tn, p), (en, _), gr in zip(named, order, g_ref):
        ours = grads[en].reshape(p.shape)
        d, r, scale = diff(ours, gr)
        worst.append((r, d, scale, en, tn))
        g = groups.setdefault(group_of(en, reduction_cells), [0, 0.0, 0.0, 0.0])
        g[0] += 1
        g[1], g[2], g[3] = max(g[1], d), max(g[2], r), max(g[3], scale)
        if a.verbose:
            print(f"  {en:<60} {tn:<50} abs {d:9.2e} rel {r:9.2e}")
    print("enas weight gradients by kind (max over tensors; rel: per tensor, to its own max|ref|):")
    for k in sorted(groups):
        n, d, r, scale = groups[k]
        bad = not (r <= a.grad_tol)
        print(f"  {k:<30} {n:4d} tensors  max|ref| {scale:9.2e}  max abs {d:9.2e}  rel {r:9.2e}{'  FAIL' if bad else ''}")
        if bad:
            failed.append(f"dL/dw {k}")
    worst.sort(reverse=True)
    print("worst tensors:")
    for r, d, scale, en, tn in worst[:5]:
        print(f"  {en} ({tn}): max|ref| {scale:.2e} abs {d:.2e} rel {r:.2e}")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        sys.exit(1)
    print("OK: enas's DARTS supernet matches the PyTorch reference")


if __name__ == "__main__":
    main()
