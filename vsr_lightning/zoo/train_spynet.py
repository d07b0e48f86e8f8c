"""Zoo recipe: SPyNet trained without ground-truth flow, on real clips.

``python -m vsr_lightning.zoo.train_spynet`` retrains ``zoo:spynet`` from scratch, in up to four phases:

1. One pyramid level alone: a real frame crop and the same crop warped by a small random smooth flow
   that this recipe draws itself (known flow, no flow dataset), the level regressing that sub-pixel
   flow. With plain ReLUs the zero-initialised last conv overshoots after the first Adam steps and the
   network returns to zero flow by switching every unit of its last hidden layer off, for good
   (``benchmarks/results/2026-12-02_stage1_learning_and_spynet.md``). So this phase trains with leaky
   ReLUs whose negative slope stays up for half of its steps and then decays to zero (the plain ReLU of
   the official architecture) by 85 % of them; the learned level then starts every level of the pyramid.
2. Optionally (``--synthetic-steps``, off by default), the whole pyramid on self-drawn warps with larger
   motions, every level regressing the flow at its own scale.
3. Teacher flows of real neighbouring frames (t, t+1) and (t, t+2): for each pair the photometric
   objective (a Charbonnier warping error plus a first-order smoothness term) is minimised directly,
   coarse to fine (:mod:`vsr_lightning.zoo.teacher_flow`). No ground-truth flow is involved; the teacher
   is the same objective photometric training would minimise, solved per pair. SPyNet learns them one
   level at a time, coarse to fine, the coarser levels frozen and run on whole frames
   (:mod:`vsr_lightning.zoo.spynet_levels`); a level that does not cut the endpoint error on held-in
   training pairs is switched off. (``--distil-steps``, off by default: the whole pyramid regresses the
   teacher on small crops instead; its coarse levels then invent motion on whole frames.)
   Self-drawn warps alone taught a network that invented motion on real footage (held-out warping error
   above zero flow's, ``benchmarks/results/2026-12-02_spynet_leaky_relu.md``).
4. Optionally (``--steps``, off by default), photometric fine-tuning on real neighbouring frames: the
   robust difference between a frame and its warped neighbour on every pyramid level, plus an edge-aware
   smoothness term; pixels that warp from outside the frame are left out.

Frames are taken at 1/2 and 1/1 of the clips' working sizes (what stage one feeds SPyNet when it
enhances 2x-4x larger frames).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsr_lightning.models.flow_warp import flow_warp
from vsr_lightning.models.spynet import SpyNet, SpyNetBasicModule
from vsr_lightning.zoo.footage import clips
from vsr_lightning.zoo.frame_pool import Clip, embedded_training_clips, footage_clips
from vsr_lightning.zoo.spynet_levels import train_levels
from vsr_lightning.zoo.teacher_flow import optimised_flow


def robust(x: Tensor, eps: float = 0.01, q: float = 0.4) -> Tensor:
    return (x.abs() + eps) ** q


def _warp_valid(supp: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
    f = flow.permute(0, 2, 3, 1)
    warped = flow_warp(supp, f, padding_mode="border")
    ones = torch.ones_like(supp[:, :1])
    valid = (flow_warp(ones, f, padding_mode="zeros") > 0.999).float()
    return warped, valid


def photometric_loss(ref: Tensor, supp: Tensor, flow: Tensor, smooth_weight: float) -> Tensor:
    """Masked robust warping error plus edge-aware smoothness of ``flow`` (all at ``ref``'s size)."""
    warped, valid = _warp_valid(supp, flow)
    data = (robust(ref - warped).mean(1, keepdim=True) * valid).sum() / valid.sum().clamp(min=1)
    dx_f, dy_f = flow[..., :, 1:] - flow[..., :, :-1], flow[..., 1:, :] - flow[..., :-1, :]
    dx_i = (ref[..., :, 1:] - ref[..., :, :-1]).abs().mean(1, keepdim=True)
    dy_i = (ref[..., 1:, :] - ref[..., :-1, :]).abs().mean(1, keepdim=True)
    smooth = (dx_f.abs() * torch.exp(-10 * dx_i)).mean() + (dy_f.abs() * torch.exp(-10 * dy_i)).mean()
    return data + smooth_weight * smooth


def pyramid_flows(net: SpyNet, ref: Tensor, supp: Tensor) -> list[Tensor]:
    """The flow of every pyramid level (coarse to fine); inputs a multiple of 32 in size."""
    flows: list[Tensor] = []
    net._process(ref, supp, level_flows=flows)
    return flows


def sample_batch(pool: list[Clip], batch: int, patch: int, max_gap: int, max_shift: int) -> tuple[Tensor, Tensor]:
    """Random (ref, supp) patches: frames up to ``max_gap`` apart, supp's crop moved by up to ``max_shift``
    pixels (a camera pan), so every batch holds motion to learn from even where the footage is static."""
    refs, supps = [], []
    weights = [c.frames.shape[0] for c in pool]
    for _ in range(batch):
        clip = random.choices(pool, weights=weights)[0]
        t, _, h, w = clip.frames.shape
        gap = random.randint(1, max_gap)
        i = random.randrange(t - gap)
        dy, dx = random.randint(-max_shift, max_shift), random.randint(-max_shift, max_shift)
        y = random.randrange(max_shift, h - patch - max_shift + 1)
        x = random.randrange(max_shift, w - patch - max_shift + 1)
        a = clip.frames[i, :, y : y + patch, x : x + patch]
        b = clip.frames[i + gap, :, y + dy : y + dy + patch, x + dx : x + dx + patch]
        if random.random() < 0.5:
            a, b = b, a
        if random.random() < 0.5:
            a, b = a.flip(-1), b.flip(-1)
        refs.append(a)
        supps.append(b)
    return torch.stack(refs), torch.stack(supps)


def random_smooth_flow(batch: int, size: int, max_shift: float, amplitude: float, still_share: float = 0.25) -> Tensor:
    """(B, 2, size, size) flows: a uniform translation of up to ``max_shift`` px plus a smooth field.

    A quarter of the samples has no translation and a random share of them almost no motion at all:
    real neighbouring frames are mostly static, and a flow that drifts there costs more than zero flow."""
    shift = (torch.rand(batch, 2, 1, 1) * 2 - 1) * max_shift * (torch.rand(batch, 1, 1, 1) >= still_share)
    scale = torch.rand(batch, 1, 1, 1) if still_share > 0 else torch.ones(batch, 1, 1, 1)
    coarse = torch.randn(batch, 2, 4, 4) * amplitude * scale
    field = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)
    return shift + field


def synthetic_batch(
    pool: list[Clip],
    batch: int,
    patch: int,
    max_shift: float,
    amplitude: float,
    noise: float = 0.02,
    brightness: float = 0.03,
    still_share: float = 0.25,
) -> tuple[Tensor, Tensor, Tensor]:
    """(ref, supp, flow) with ``flow_warp(supp, flow) == ref`` by construction (before the noise).

    ``supp`` is a real frame crop; ``ref`` is the larger crop around it warped by the drawn flow, so
    the flow is known exactly. Independent noise and a brightness change on each side stand in for
    compression and lighting differences."""
    margin = int(math.ceil(max_shift + 3 * amplitude)) + 2
    big_size = patch + 2 * margin
    weights = [c.frames.shape[0] for c in pool]
    bigs = []
    for _ in range(batch):
        clip = random.choices(pool, weights=weights)[0]
        t, _, h, w = clip.frames.shape
        y, x = random.randrange(h - big_size + 1), random.randrange(w - big_size + 1)
        big = clip.frames[random.randrange(t), :, y : y + big_size, x : x + big_size]
        bigs.append(big.flip(-1) if random.random() < 0.5 else big)
    big = torch.stack(bigs)
    flow = random_smooth_flow(batch, big_size, max_shift, amplitude, still_share)
    ref = flow_warp(big, flow.permute(0, 2, 3, 1), padding_mode="border")
    inner = (slice(None), slice(None), slice(margin, margin + patch), slice(margin, margin + patch))
    ref, supp, flow = ref[inner], big[inner], flow[inner]
    noisy = [
        (x + torch.randn_like(x) * random.uniform(0, noise) + random.uniform(-brightness, brightness)).clamp(0, 1)
        for x in (ref, supp)
    ]
    return noisy[0], noisy[1], flow


def flow_regression_loss(flows: list[Tensor], target: Tensor) -> Tensor:
    """Mean endpoint error of every pyramid level against the target flow scaled to that level."""
    loss = target.new_zeros(())
    for flow in flows:
        factor = target.shape[-1] // flow.shape[-1]
        t = F.avg_pool2d(target, factor) / factor if factor > 1 else target
        loss = loss + (flow - t).pow(2).sum(1).add(1e-6).sqrt().mean()
    return loss / len(flows)


def warping_error(net: SpyNet, pool: list[Clip], gap: int = 1) -> tuple[float, float]:
    """Mean absolute warping error (0-255) of frames ``gap`` apart, with the flow and with zero flow."""
    err_flow = err_zero = 0.0
    count = 0
    with torch.inference_mode():
        for clip in pool:
            for i in range(0, clip.frames.shape[0] - gap, 2):
                ref, supp = clip.frames[i : i + 1], clip.frames[i + gap : i + gap + 1]
                warped = flow_warp(supp, net(ref, supp).permute(0, 2, 3, 1), padding_mode="border")
                err_flow += (ref - warped).abs().mean().item() * 255
                err_zero += (ref - supp).abs().mean().item() * 255
                count += 1
    return err_flow / count, err_zero / count


SCALES = (0.5, 1.0)
"""Of the clips' working sizes (bikes 320x136, traffic 352x288, ...): stage one feeds SPyNet 1/4 of the
frames it enhances, so these cover enhancing at 2x-4x these sizes (up to about 1080p)."""


def training_pool(min_size: int) -> list[Clip]:
    pool = [
        c for scale in SCALES for c in embedded_training_clips(scale) + footage_clips(clips("train"), scale, fetch=True)
    ]
    return [c for c in pool if min(c.frames.shape[-2:]) >= min_size]


class AnnealedLeakyReLUs:
    """Swaps a module's ReLUs for leaky ones whose negative slope can be lowered; :meth:`restore` puts the
    plain ReLUs back (activations hold no weights, so the state dict is the official layout throughout)."""

    def __init__(self, module: nn.Sequential, slope: float) -> None:
        self.module = module
        self.indices = [i for i, layer in enumerate(module) if isinstance(layer, nn.ReLU)]
        for i in self.indices:
            module[i] = nn.LeakyReLU(slope)

    def set_slope(self, slope: float) -> None:
        for i in self.indices:
            self.module[i].negative_slope = slope

    def restore(self) -> None:
        for i in self.indices:
            self.module[i] = nn.ReLU()


def _warmup_cosine(step: int, steps: int, warmup: int = 100) -> float:
    return min(1.0, step / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))


def train_one_level(
    net: SpyNet, steps: int, batch: int, patch: int, lr: float, slope: float, max_shift: float, log_every: int = 100
) -> SpyNetBasicModule:
    """Phase 1: one level regresses small self-drawn flows from (ref, warped supp, zero flow); returns it."""
    level = SpyNetBasicModule()
    for conv in level.basic_module[:-1:2]:
        nn.init.kaiming_normal_(conv.weight, a=slope, nonlinearity="leaky_relu")
        nn.init.zeros_(conv.bias)
    with torch.no_grad():  # blind to the coarser flow it is handed (zero here): a pure residual estimator
        level.basic_module[0].weight[:, 6:] = 0
    nn.init.zeros_(level.basic_module[-1].weight)
    nn.init.zeros_(level.basic_module[-1].bias)
    leaky = AnnealedLeakyReLUs(level.basic_module, slope)
    pool = training_pool(patch + 2 * (int(max_shift + 1) + 3))
    opt = torch.optim.Adam(level.parameters(), lr=lr)
    started, epe, epe_zero = time.perf_counter(), 0.0, 0.0
    for step in range(1, steps + 1):
        leaky.set_slope(slope * min(1.0, max(0.0, (0.85 * steps - step) / (0.35 * steps))))
        for group in opt.param_groups:
            group["lr"] = lr * _warmup_cosine(step, steps)
        # clean pairs, mostly moving: the first features must find motion, not brightness changes
        ref, supp, target = synthetic_batch(
            pool, batch, patch, max_shift, amplitude=max_shift / 5, noise=0.01, brightness=0.0, still_share=0.2
        )
        ref, supp = (ref - net.mean) / net.std, (supp - net.mean) / net.std
        flow = level(torch.cat([ref, supp, torch.zeros_like(target)], dim=1))
        loss = (flow - target).pow(2).sum(1).add(1e-6).sqrt().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(level.parameters(), 1.0)
        opt.step()
        epe += loss.item()
        epe_zero += target.norm(dim=1).mean().item()
        if step % log_every == 0:
            print(
                f"one level step {step}/{steps}: endpoint error {epe / log_every:.3f} px "
                f"(zero flow {epe_zero / log_every:.3f}) {time.perf_counter() - started:.0f}s",
                flush=True,
            )
            epe = epe_zero = 0.0
    leaky.restore()
    return level


def start_every_level_from(net: SpyNet, level: SpyNetBasicModule) -> SpyNet:
    """Each pyramid level predicts a small residual flow at its own scale: the same task, so the same start."""
    for module in net.basic_module:
        module.load_state_dict(level.state_dict())
    return net


def regress_flows(net: SpyNet, next_batch, steps: int, lr: float, label: str, log_every: int = 100) -> SpyNet:
    """The whole pyramid regresses target flows, every level at its own scale (phases 2 and 3)."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    started, epe, epe_zero = time.perf_counter(), 0.0, 0.0
    for step in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = lr * _warmup_cosine(step, steps)
        ref, supp, target = next_batch()
        flows = pyramid_flows(net, ref, supp)
        loss = flow_regression_loss(flows, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        epe += (flows[-1] - target).detach().norm(dim=1).mean().item()
        epe_zero += target.norm(dim=1).mean().item()
        if step % log_every == 0:
            print(
                f"{label} step {step}/{steps}: endpoint error {epe / log_every:.3f} px "
                f"(zero flow {epe_zero / log_every:.3f}) {time.perf_counter() - started:.0f}s",
                flush=True,
            )
            epe = epe_zero = 0.0
    return net


def train_on_synthetic_warps(
    net: SpyNet, steps: int, batch: int, patch: int, lr: float, max_shift: float, amplitude: float
) -> SpyNet:
    """Phase 2: regress self-drawn smooth flows between a real crop and its warped copy."""
    pool = training_pool(patch + 2 * (int(max_shift + 3 * amplitude) + 3))
    return regress_flows(net, lambda: synthetic_batch(pool, batch, patch, max_shift, amplitude), steps, lr, "synthetic")


def teacher_pairs(
    pool: list[Clip], per_clip: int, gaps: tuple[int, ...], smooth: float, iters: int, chunk: int = 8
) -> list[tuple[Tensor, Tensor, Tensor]]:
    """(ref, supp, teacher flow) for ``per_clip`` evenly spaced pairs per gap of every clip, whole frames."""
    out = []
    started = time.perf_counter()
    for clip in pool:
        t = clip.frames.shape[0]
        for gap in gaps:
            starts = torch.linspace(0, t - gap - 1, min(per_clip, t - gap)).round().long().tolist()
            for i in range(0, len(starts), chunk):
                idx = starts[i : i + chunk]
                ref, supp = clip.frames[idx], clip.frames[[j + gap for j in idx]]
                out.append((ref, supp, optimised_flow(ref, supp, smooth, iters)))
        print(
            f"teacher flows: {clip.name} {tuple(clip.frames.shape[-2:])} done {time.perf_counter() - started:.0f}s",
            flush=True,
        )
    return out


def teacher_batch(pairs: list[tuple[Tensor, Tensor, Tensor]], batch: int, patch: int) -> tuple[Tensor, Tensor, Tensor]:
    """Random crops of the teacher pairs, flipped at random (a flipped axis negates that flow component)."""
    refs, supps, flows = [], [], []
    for _ in range(batch):
        ref, supp, flow = random.choice(pairs)
        k = random.randrange(ref.shape[0])
        h, w = ref.shape[-2:]
        y, x = random.randrange(h - patch + 1), random.randrange(w - patch + 1)
        crop = (k, slice(None), slice(y, y + patch), slice(x, x + patch))
        r, s, f = ref[crop], supp[crop], flow[crop].clone()
        for axis, component in ((-1, 0), (-2, 1)):
            if random.random() < 0.5:
                r, s, f = r.flip(axis), s.flip(axis), f.flip(axis)
                f[component] = -f[component]
        refs.append(r)
        supps.append(s)
        flows.append(f)
    return torch.stack(refs), torch.stack(supps), torch.stack(flows)


def distil(
    net: SpyNet,
    pairs: list[tuple[Tensor, Tensor, Tensor]],
    steps: int,
    batch: int,
    patch: int,
    lr: float,
) -> SpyNet:
    """Phase 3: the whole pyramid regresses the teacher's flows of real neighbouring frames."""
    return regress_flows(net, lambda: teacher_batch(pairs, batch, patch), steps, lr, "distil (to the teacher)")


def train(
    net: SpyNet, steps: int, batch: int, patch: int, lr: float, smooth: float, max_shift: int, log_every: int = 100
) -> SpyNet:
    """Phase 4: photometric fine-tuning on real neighbouring frames."""
    if steps <= 0:
        return net
    pool = training_pool(patch + 2 * max_shift)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        ref, supp = sample_batch(pool, batch, patch, max_gap=3, max_shift=max_shift)
        flows = pyramid_flows(net, ref, supp)
        loss = ref.new_zeros(())
        for level, flow in enumerate(flows):
            size = flow.shape[-2:]
            r = F.interpolate(ref, size=size, mode="area") if size != ref.shape[-2:] else ref
            s = F.interpolate(supp, size=size, mode="area") if size != ref.shape[-2:] else supp
            loss = loss + photometric_loss(r, s, flow, smooth) * 0.5 ** (len(flows) - 1 - level)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % log_every == 0:
            print(f"step {step}/{steps} loss {loss.item():.4f} {time.perf_counter() - started:.0f}s", flush=True)
    return net


TRAINING_DATA = (
    "embedded training split (carphone 0-74, bikes 0-174, bigbuckbunny 0-74) and registry footage "
    "traffic, box, cup, tree (vsr_lightning/zoo/footage.py), at 1/2 and 1/1 of their working sizes"
)

MIN_REDUCTION = 0.30
"""A flow network is published only when it cuts the held-out warping error by this much against zero flow."""


def seed_phase(seed: int, phase: int) -> None:
    """Each phase draws from its own seed, so starting from a saved earlier phase gives the same result."""
    random.seed(seed if phase == 1 else seed * 1000 + phase)
    torch.manual_seed(seed if phase == 1 else seed * 1000 + phase)


def per_level(text: str) -> list[int]:
    """``--levels-steps``/``--refine-steps`` as one number per pyramid level (coarsest first)."""
    if "," in text:
        return [int(n) for n in text.split(",")]
    return [int(text)] * SpyNet.num_levels


def level_steps(args: argparse.Namespace) -> list[int]:
    return per_level(args.levels_steps)


def total_steps(args: argparse.Namespace) -> int:
    """Optimiser steps of every phase together (the teacher's per-pair steps not counted)."""
    phases = (args.level_steps if not args.level_weights else 0, args.synthetic_steps, args.distil_steps, args.steps)
    return sum(phases) + sum(level_steps(args)[args.levels_first :]) + sum(per_level(args.refine_steps))


def evaluate_and_publish(net: SpyNet, args: argparse.Namespace, publish: bool) -> dict:
    """Held-out warping error (vtest, megamind at 1/2 of their working size, frames 2 apart); optionally publish."""
    heldout = footage_clips(clips("heldout"), 0.5, max_frames=120, fetch=True)
    flow_err, zero_err = warping_error(net.eval(), heldout, gap=2)
    metrics = {
        "heldout_warp_mae_flow": round(flow_err, 4),
        "heldout_warp_mae_zero_flow": round(zero_err, 4),
        "heldout_warp_error_reduction": round(1 - flow_err / zero_err, 4),
        "heldout": "vtest 192x144, megamind 180x135 (1/2 of 384x288, 360x270): first 120 frames, pairs (t, t+2) "
        "for even t, mean absolute RGB error 0-255",
    }
    print(
        f"held-out warping error: flow {flow_err:.3f}, zero flow {zero_err:.3f}, "
        f"reduction {100 * (1 - flow_err / zero_err):.1f} %"
    )
    if publish and metrics["heldout_warp_error_reduction"] < MIN_REDUCTION:
        raise SystemExit(f"not published: the held-out warping error fell by less than {MIN_REDUCTION:.0%}")
    if publish:
        from vsr_lightning.zoo.publish import publish as write_entry

        # Where the phase-1 weights and the teacher flows were kept is not part of the recipe: every phase
        # draws from its own seed, so a run from them equals a run from scratch.
        skipped = ("out", "publish", "level_weights", "teacher_cache")
        options = " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in skipped and v is not None
        )
        write_entry(
            "spynet",
            net,
            {"_target_": "vsr_lightning.models.spynet.SpyNet"},
            training_data=TRAINING_DATA,
            steps=total_steps(args),
            recipe=f"python -m vsr_lightning.zoo.train_spynet {options} --publish",
            metrics=metrics,
        )
    return metrics


def load_teacher_pairs(args: argparse.Namespace) -> list[tuple[Tensor, Tensor, Tensor]]:
    """The teacher pairs of the training pool, computed once (``--teacher-cache`` keeps them)."""
    from pathlib import Path

    cache = Path(args.teacher_cache) if args.teacher_cache else None
    if cache is not None and cache.is_file():
        return [tuple(x) for x in torch.load(cache, weights_only=True)]
    pairs = teacher_pairs(
        training_pool(args.distil_patch), args.teacher_per_clip, (1, 2), args.teacher_smooth, args.teacher_iters
    )
    if cache is not None:
        torch.save([list(p) for p in pairs], cache)
    return pairs


def _add_one_level_options(parser: argparse.ArgumentParser) -> None:
    """Phase 1: one pyramid level on small self-drawn warps, with annealed leaky ReLUs."""
    parser.add_argument("--level-steps", type=int, default=2500, help="phase 1 steps (one level, small warps)")
    parser.add_argument("--level-batch", type=int, default=8)
    parser.add_argument("--level-patch", type=int, default=32)
    parser.add_argument("--level-lr", type=float, default=1e-3)
    parser.add_argument("--level-slope", type=float, default=0.2, help="starting negative slope of the ReLUs")
    parser.add_argument("--level-shift", type=float, default=1.5, help="largest drawn translation (px)")


def _add_synthetic_options(parser: argparse.ArgumentParser) -> None:
    """Phase 2 (off by default): the whole pyramid on larger self-drawn warps."""
    parser.add_argument("--synthetic-steps", type=int, default=0, help="phase 2 steps (pyramid, self-drawn warps)")
    parser.add_argument("--synthetic-patch", type=int, default=64)
    parser.add_argument("--synthetic-lr", type=float, default=2e-4)
    parser.add_argument("--synthetic-shift", type=float, default=6.0, help="largest drawn translation (px)")
    parser.add_argument("--synthetic-amplitude", type=float, default=1.5, help="scale of the smooth field (px)")


def _add_teacher_options(parser: argparse.ArgumentParser) -> None:
    """The teacher flows of phase 3: how many pairs, and how each pair's photometric objective is solved."""
    parser.add_argument("--teacher-per-clip", type=int, default=12, help="teacher pairs per clip, scale and gap")
    parser.add_argument("--teacher-iters", type=int, default=80, help="Adam steps per pyramid factor of the teacher")
    parser.add_argument("--teacher-smooth", type=float, default=0.03, help="smoothness weight of the teacher")
    parser.add_argument("--teacher-cache", default=None, help="keep the teacher flows in this file (reused if there)")


def _add_levels_options(parser: argparse.ArgumentParser) -> None:
    """Phase 3: SPyNet learns the teacher flows level by level, then (``--refine-*``) a second pass."""
    parser.add_argument(
        "--levels-steps",
        default="600",
        help="phase 3 steps per pyramid level (each level alone, coarse to fine): one number, or six "
        "comma-separated (coarsest first)",
    )
    parser.add_argument(
        "--levels-first",
        type=int,
        default=0,
        help="phase 3 starts at this level (the coarser ones are kept from --level-weights)",
    )
    parser.add_argument(
        "--levels-photometric",
        type=float,
        default=0.0,
        help="weight of the level's photometric loss beside the endpoint error to the teacher",
    )
    parser.add_argument(
        "--refine-steps",
        default="0,0,0,0,800,1200",
        help="a second pass over the levels (per level, coarsest first) with the photometric term",
    )
    parser.add_argument("--refine-lr", type=float, default=2e-4)
    parser.add_argument("--refine-photometric", type=float, default=5.0)
    parser.add_argument(
        "--levels-min-gain",
        type=float,
        default=None,
        help="a level that cuts the endpoint error on held-in training pairs by less is switched off "
        "(default: no check)",
    )
    parser.add_argument("--levels-patch", type=int, default=64)
    parser.add_argument("--levels-batch", type=int, default=8)
    parser.add_argument("--levels-lr", type=float, default=1e-4)


def _add_distil_options(parser: argparse.ArgumentParser) -> None:
    """Phase 3b (off by default): the whole pyramid regresses the teacher flows on crops."""
    parser.add_argument(
        "--distil-steps",
        type=int,
        default=0,
        help="phase 3b steps (the whole pyramid regresses the teacher flows on crops)",
    )
    parser.add_argument("--distil-patch", type=int, default=64)
    parser.add_argument("--distil-batch", type=int, default=8)
    parser.add_argument("--distil-lr", type=float, default=2e-4)


def _add_photometric_options(parser: argparse.ArgumentParser) -> None:
    """Phase 4 (off by default): photometric fine-tuning on real neighbouring frames."""
    parser.add_argument("--steps", type=int, default=0, help="phase 4 steps (photometric, real pairs)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--smooth", type=float, default=0.5)


def build_parser() -> argparse.ArgumentParser:
    """The recipe's command line. The options are added in this order on purpose: a published entry's
    ``recipe`` lists them in it (:func:`evaluate_and_publish`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _add_one_level_options(parser)
    _add_synthetic_options(parser)
    parser.add_argument(
        "--level-weights",
        default=None,
        help="start from a SPyNet saved after phase 1 (--out) instead of training phase 1 again",
    )
    _add_teacher_options(parser)
    _add_levels_options(parser)
    _add_distil_options(parser)
    _add_photometric_options(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-shift", type=int, default=3)
    parser.add_argument("--out", default=None, help="also save the weights here after every phase")
    parser.add_argument("--publish", action="store_true", help="write the result into the package's zoo")
    return parser


def save_and_evaluate(net: SpyNet, args: argparse.Namespace, phase: str) -> None:
    """After each phase: save the weights (``--out``) and report the held-out warping error, then resume training."""
    print(f"after {phase}:", flush=True)
    if args.out:
        torch.save(net.state_dict(), args.out)
    evaluate_and_publish(net, args, publish=False)
    net.train()


def _after_level(args: argparse.Namespace) -> Callable[[int, SpyNet], None]:
    """Phase 3's report after every level: the held-out warping error of the levels trained so far."""

    def after_level(level: int, so_far: SpyNet) -> None:
        print(f"levels 0-{level} trained:", flush=True)
        evaluate_and_publish(so_far, args, publish=False)

    return after_level


def run_one_level_phase(net: SpyNet, args: argparse.Namespace) -> None:
    """Phase 1, or its saved result (``--level-weights``): the start of every pyramid level."""
    if args.level_weights:
        net.load_state_dict(torch.load(args.level_weights, map_location="cpu", weights_only=True))
    else:
        level = train_one_level(
            net, args.level_steps, args.level_batch, args.level_patch, args.level_lr, args.level_slope, args.level_shift
        )
        start_every_level_from(net, level)
        save_and_evaluate(net, args, "phase 1 (one level)")


def run_synthetic_phase(net: SpyNet, args: argparse.Namespace) -> None:
    """Phase 2 (when ``--synthetic-steps``): the whole pyramid on self-drawn warps."""
    if args.synthetic_steps > 0:
        seed_phase(args.seed, 2)
        train_on_synthetic_warps(
            net,
            args.synthetic_steps,
            args.batch,
            args.synthetic_patch,
            args.synthetic_lr,
            args.synthetic_shift,
            args.synthetic_amplitude,
        )
        save_and_evaluate(net, args, "phase 2 (pyramid, self-drawn warps)")


def run_levels_phase(net: SpyNet, args: argparse.Namespace) -> None:
    """Phase 3 (when ``--levels-steps``): the teacher flows learned level by level, coarse to fine."""
    if any(level_steps(args)):
        seed_phase(args.seed, 3)
        train_levels(
            net.train(),
            load_teacher_pairs(args),
            level_steps(args),
            args.levels_batch,
            args.levels_patch,
            args.levels_lr,
            photometric=args.levels_photometric,
            smooth=args.teacher_smooth,
            first_level=args.levels_first,
            min_gain=float("-inf") if args.levels_min_gain is None else args.levels_min_gain,
            after_level=_after_level(args),
        )
        save_and_evaluate(net, args, "phase 3 (level by level, teacher flows of real pairs)")


def run_refine_phase(net: SpyNet, args: argparse.Namespace) -> None:
    """Phase 3's second pass (when ``--refine-steps``): the levels again, with the photometric term."""
    if any(per_level(args.refine_steps)):
        seed_phase(args.seed, 6)
        train_levels(
            net.train(),
            load_teacher_pairs(args),
            per_level(args.refine_steps),
            args.levels_batch,
            args.levels_patch,
            args.refine_lr,
            photometric=args.refine_photometric,
            smooth=args.teacher_smooth,
            min_gain=float("-inf"),
            after_level=_after_level(args),
        )
        save_and_evaluate(net, args, "phase 3, second pass (photometric term beside the teacher)")


def run_distil_phase(net: SpyNet, args: argparse.Namespace) -> None:
    """Phase 3b (when ``--distil-steps``): the whole pyramid regresses the teacher flows on crops."""
    if args.distil_steps > 0:
        seed_phase(args.seed, 4)
        distil(
            net.train(),
            load_teacher_pairs(args),
            args.distil_steps,
            args.distil_batch,
            args.distil_patch,
            args.distil_lr,
        )
        save_and_evaluate(net, args, "phase 3b (pyramid, teacher flows of real pairs)")


def main(argv: list[str] | None = None) -> None:
    """Run the phases in order, each from its own seed; save (``--out``), evaluate and optionally publish."""
    args = build_parser().parse_args(argv)
    seed_phase(args.seed, 1)
    net = SpyNet()
    run_one_level_phase(net, args)
    run_synthetic_phase(net, args)
    run_levels_phase(net, args)
    run_refine_phase(net, args)
    run_distil_phase(net, args)
    seed_phase(args.seed, 5)
    net = train(net.train(), args.steps, args.batch, args.patch, args.lr, args.smooth, args.max_shift)
    if args.out:
        torch.save(net.state_dict(), args.out)
    evaluate_and_publish(net.eval(), args, args.publish)


if __name__ == "__main__":
    main()
