"""BasicVSR++ for compressed-video quality enhancement, with optional PQF propagation.

Stage one of the NTIRE 2022 Track 1 winning recipe. Module and parameter names follow BasicSR's
``BasicVSRPlusPlus`` with ``is_low_res_input=False`` so official weights map 1:1 (see basicvsr_pp_weights.py).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsr_lightning.models.deformable_alignment import SecondOrderDeformableAlignment
from vsr_lightning.models.flow_warp import flow_warp
from vsr_lightning.models.pqf import fixed_period_pqf, second_order_sources
from vsr_lightning.models.residual_blocks import ResidualBlockNoBN, ResidualBlocksWithInputConv, child_as
from vsr_lightning.models.spynet import SpyNet

BRANCHES = ("backward_1", "forward_1", "backward_2", "forward_2")


class BasicVSRPlusPlus(nn.Module):
    """Bidirectional second-order grid propagation at 1/4 resolution; output = input + residual.

    ``propagation='pqf'`` replaces each branch's second-order input by the nearest peak-quality frame
    already propagated (flags from the ``pqf`` argument, or every ``pqf_period`` frames from frame 0).
    """

    def __init__(
        self,
        mid_channels: int = 64,
        num_blocks: int = 7,
        num_reconstruction_blocks: int = 5,
        max_residue_magnitude: float = 10.0,
        propagation: Literal["second_order", "pqf"] = "second_order",
        pqf_period: int | None = 4,
        spynet_path: str | None = None,
        deform_groups: int = 16,
        hr_channels: int = 64,
    ) -> None:
        super().__init__()
        if propagation not in ("second_order", "pqf"):
            raise ValueError(f"propagation must be 'second_order' or 'pqf', got {propagation!r}")
        self.mid_channels = mid_channels
        self.hr_channels = hr_channels
        self.propagation = propagation
        self.pqf_period = pqf_period
        self.spynet = SpyNet(load_path=spynet_path)
        self.feat_extract = nn.Sequential(
            nn.Conv2d(3, mid_channels, 3, 2, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(mid_channels, mid_channels, 3, 2, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            ResidualBlocksWithInputConv(mid_channels, mid_channels, 5),
        )
        self.deform_align = nn.ModuleDict()
        self.backbone = nn.ModuleDict()
        for i, name in enumerate(BRANCHES):
            self.deform_align[name] = SecondOrderDeformableAlignment(
                2 * mid_channels,
                mid_channels,
                3,
                padding=1,
                deform_groups=deform_groups,
                max_residue_magnitude=max_residue_magnitude,
            )
            self.backbone[name] = ResidualBlocksWithInputConv((2 + i) * mid_channels, mid_channels, num_blocks)
        self.reconstruction = ResidualBlocksWithInputConv(5 * mid_channels, mid_channels, num_reconstruction_blocks)
        self.upconv1 = nn.Conv2d(mid_channels, mid_channels * 4, 3, 1, 1, bias=True)
        # The full-resolution head is 64 wide in the official models; a narrower one (``hr_channels``)
        # keeps tiny CPU configurations from spending most of their time at full resolution.
        self.upconv2 = nn.Conv2d(mid_channels, hr_channels * 4, 3, 1, 1, bias=True)
        self.pixel_shuffle = nn.PixelShuffle(2)
        self.conv_hr = nn.Conv2d(hr_channels, hr_channels, 3, 1, 1)
        self.conv_last = nn.Conv2d(hr_channels, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        self._init_signal_preserving()
        # Output = input + residual; a zero last layer makes the untrained network the identity, so
        # short runs start at the compressed input's PSNR (official weights overwrite this).
        nn.init.zeros_(self.conv_last.weight)
        assert self.conv_last.bias is not None  # Conv2d's default bias=True
        nn.init.zeros_(self.conv_last.bias)

    def _init_signal_preserving(self) -> None:
        """He initialisation (LeakyReLU 0.1, fan-in) for the convolutions on the main path.

        PyTorch's default initialisation shrinks the signal by about 1/sqrt(3) per layer, so after the
        20-odd layers between the input and the head an untrained network feeds the head little more
        than its biases: after 40 steps of the tiny CPU default the residual was the same colour offset
        on every validation video. With He-initialised layers the head sees image structure from step one
        (feature std about 0.4 instead of 0.02 on uniform noise). The residual blocks keep their 0.1-scaled
        init (identity-dominated, as in BasicSR); released weights overwrite all of this.
        """
        extract = self.feat_extract
        convs = [
            child_as(extract[0], nn.Conv2d),
            child_as(extract[2], nn.Conv2d),
            child_as(extract[4], ResidualBlocksWithInputConv).input_conv,
            self.reconstruction.input_conv,
            self.upconv1,
            self.upconv2,
            self.conv_hr,
        ]
        convs += [child_as(self.backbone[name], ResidualBlocksWithInputConv).input_conv for name in BRANCHES]
        aligns = [child_as(self.deform_align[name], SecondOrderDeformableAlignment) for name in BRANCHES]
        weights = [conv.weight for conv in convs] + [align.weight for align in aligns]
        for weight in weights:
            nn.init.kaiming_normal_(weight, a=0.1, mode="fan_in", nonlinearity="leaky_relu")
        for conv in convs:
            assert conv.bias is not None  # every convolution listed here is built with a bias
            nn.init.zeros_(conv.bias)
        for align in aligns:
            if align.bias is not None:
                nn.init.zeros_(align.bias)

    # ------------------------------------------------------------------ what inference asks (inference/protocol.py)
    size_multiple = 4
    """Tile sides are multiples of 4: the feature extractor halves the size twice."""

    @property
    def flow_network(self) -> nn.Module:
        """SPyNet: trained with its own learning rate, frozen at first."""
        return self.spynet

    def inference_bytes(self, frames: int, height: int, width: int) -> int:
        """A safe estimate of the working set of one inference-mode ``forward`` on ``frames`` frames.

        Per frame and input pixel: the five feature branches at quarter resolution, flows, and float
        input/output copies (about ``4 C + 12`` bytes); once per pixel: one frame's temporaries in the
        alignment and the full-resolution head (about ``8 C + 16 hr + 256`` bytes). Calibrated against
        the peak resident memory growth measured on the CPU (64/7: 240-285 bytes per pixel and frame).
        """
        c, pixels = self.mid_channels, height * width
        return int(pixels * (frames * (4 * c + 12) + 8 * c + 16 * self.hr_channels + 256))

    # ------------------------------------------------------------------ progressive training
    @property
    def num_reconstruction_blocks(self) -> int:
        return self.reconstruction.num_blocks

    def grow(self, num_new_blocks: int) -> list[ResidualBlockNoBN]:
        """Deepen the reconstruction trunk (5 -> 15 -> ... -> 55) without changing the function.

        New blocks have a zero-initialised second conv, so their residual is exactly zero until trained.
        """
        if num_new_blocks < 0:
            raise ValueError("num_new_blocks must be >= 0")
        return self.reconstruction.append_identity_blocks(num_new_blocks)

    # ------------------------------------------------------------------ flow
    def _flow_is_constant_zero(self) -> bool:
        """An untrained SPyNet that gets no gradient computes zero flow: skip it (most of a tiny model's cost)."""
        learning = torch.is_grad_enabled() and any(p.requires_grad for p in self.spynet.parameters())
        return not learning and self.spynet.predicts_zero()

    def _compute_flows(self, lqs_small: Tensor) -> tuple[Tensor, Tensor]:
        """Flows between neighbours on 1/4-size frames.

        Returns ``(to_next, to_prev)``, both (N,T-1,2,h,w): ``to_next[:, k]`` lives on frame k and points into
        k+1 (official ``flows_backward``, used by backward branches); ``to_prev[:, k]`` lives on frame k+1 and
        points into frame k (official ``flows_forward``, used by forward branches).
        """
        n, t, c, h, w = lqs_small.shape
        if self._flow_is_constant_zero():
            zeros = lqs_small.new_zeros(n, t - 1, 2, h, w)
            return zeros, zeros
        a = lqs_small[:, :-1].reshape(-1, c, h, w)
        b = lqs_small[:, 1:].reshape(-1, c, h, w)
        to_next = self.spynet(a, b).view(n, t - 1, 2, h, w)
        to_prev = self.spynet(b, a).view(n, t - 1, 2, h, w)
        return to_next, to_prev

    # ------------------------------------------------------------------ propagation
    def _propagate(
        self,
        feats: dict[str, list[Tensor]],
        to_next: Tensor,
        to_prev: Tensor,
        branch: str,
        pqf: Tensor | None,
    ) -> None:
        backward = branch.startswith("backward")
        spatial = feats["spatial"]
        t = len(spatial)
        step = -1 if backward else 1
        order = range(t - 1, -1, -1) if backward else range(t)
        sources = second_order_sources(t, backward, pqf if self.propagation == "pqf" else None)

        def step_flow(idx: int) -> Tensor:
            # Flow on frame idx pointing into the previously propagated neighbour.
            return to_next[:, idx] if backward else to_prev[:, idx - 1]

        others = [k for k in feats if k not in ("spatial", branch)]
        props: dict[int, Tensor] = {}
        outputs: list[Tensor | None] = [None] * t
        feat_prop = spatial[0].new_zeros(spatial[0].shape)
        for i, idx in enumerate(order):
            feat_current = spatial[idx]
            if i > 0:
                flow_n1 = step_flow(idx)
                cond_n1 = flow_warp(feat_prop, flow_n1.permute(0, 2, 3, 1))
                src = sources[idx]
                if src[0] is None:
                    feat_n2 = torch.zeros_like(feat_prop)
                    flow_n2 = torch.zeros_like(flow_n1)
                    cond_n2 = torch.zeros_like(cond_n1)
                else:
                    feat_n2, flow_n2, cond_n2 = self._second_order_input(props, src, idx, step, step_flow, flow_n1)
                cond = torch.cat([cond_n1, feat_current, cond_n2], dim=1)
                feat_prop = torch.cat([feat_prop, feat_n2], dim=1)
                feat_prop = self.deform_align[branch](feat_prop, cond, flow_n1, flow_n2)
            feat = torch.cat([feat_current] + [feats[k][idx] for k in others] + [feat_prop], dim=1)
            feat_prop = feat_prop + self.backbone[branch](feat)
            props[idx] = feat_prop
            outputs[idx] = feat_prop
        feats[branch] = outputs  # type: ignore[assignment]

    @staticmethod
    def _second_order_input(
        props: dict[int, Tensor],
        src: list[int | None],
        idx: int,
        step: int,
        step_flow,
        flow_n1: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Feature of each sample's source frame, the composed flow to it, and the warped feature."""
        groups: dict[int, list[int]] = {}
        for n, j in enumerate(src):
            assert j is not None
            groups.setdefault(j, []).append(n)
        pieces: list[tuple[list[int], Tensor, Tensor]] = []
        for j, members in groups.items():
            sel = None if len(groups) == 1 else torch.tensor(members, device=flow_n1.device)
            acc = flow_n1 if sel is None else flow_n1[sel]
            cur = idx - step
            while cur != j:
                f = step_flow(cur)
                if sel is not None:
                    f = f[sel]
                # Earlier flow warped by the accumulated one, then added: cur->j composed onto idx->cur.
                acc = acc + flow_warp(f, acc.permute(0, 2, 3, 1))
                cur -= step
            feat = props[j] if sel is None else props[j][sel]
            pieces.append((members, feat, acc))
        if len(pieces) == 1:
            _, feat_n2, flow_n2 = pieces[0]
        else:
            members_all = [m for p in pieces for m in p[0]]
            inverse = torch.empty(len(members_all), dtype=torch.long)
            inverse[torch.tensor(members_all)] = torch.arange(len(members_all))
            inverse = inverse.to(flow_n1.device)
            feat_n2 = torch.cat([p[1] for p in pieces])[inverse]
            flow_n2 = torch.cat([p[2] for p in pieces])[inverse]
        cond_n2 = flow_warp(feat_n2, flow_n2.permute(0, 2, 3, 1))
        return feat_n2, flow_n2, cond_n2

    # ------------------------------------------------------------------ reconstruction
    def _upsample(self, lqs: Tensor, feats: dict[str, list[Tensor]]) -> Tensor:
        outputs = []
        for i in range(lqs.shape[1]):
            hr = torch.cat([feats["spatial"][i]] + [feats[k][i] for k in BRANCHES], dim=1)
            hr = self.reconstruction(hr)
            hr = self.lrelu(self.pixel_shuffle(self.upconv1(hr)))
            hr = self.lrelu(self.pixel_shuffle(self.upconv2(hr)))
            hr = self.lrelu(self.conv_hr(hr))
            hr = self.conv_last(hr)
            outputs.append(hr + lqs[:, i])
        return torch.stack(outputs, dim=1)

    def _resolve_pqf(self, pqf: Tensor | None, n: int, t: int, device: torch.device) -> Tensor | None:
        if self.propagation != "pqf":
            return None
        if pqf is None:
            if self.pqf_period is None:
                raise ValueError("propagation='pqf' needs pqf flags or a pqf_period")
            return fixed_period_pqf(t, self.pqf_period, batch=n)
        if pqf.dim() == 1:
            pqf = pqf.unsqueeze(0).expand(n, -1)
        if tuple(pqf.shape) != (n, t):
            raise ValueError(f"pqf must be (N,T)=({n},{t}), got {tuple(pqf.shape)}")
        return pqf.bool()

    def forward(self, lqs: Tensor, pqf: Tensor | None = None) -> Tensor:
        """lqs: (N,T,3,H,W) in [0,1], any H,W; pqf: optional (N,T) bool peak-quality flags."""
        if lqs.dim() != 5 or lqs.shape[2] != 3:
            raise ValueError(f"expected (N,T,3,H,W), got {tuple(lqs.shape)}")
        n, t, c, h, w = lqs.shape
        pqf_flags = self._resolve_pqf(pqf, n, t, lqs.device)
        ph, pw = (-h) % 4, (-w) % 4
        x = lqs
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(lqs.reshape(n * t, c, h, w), [0, pw, 0, ph], mode=mode).view(n, t, c, h + ph, w + pw)
        hp, wp = h + ph, w + pw
        small = F.interpolate(x.reshape(-1, c, hp, wp), scale_factor=0.25, mode="bicubic")
        small = small.view(n, t, c, hp // 4, wp // 4)

        feats_ = self.feat_extract(x.reshape(-1, c, hp, wp))
        feats_ = feats_.view(n, t, -1, hp // 4, wp // 4)
        feats: dict[str, list[Tensor]] = {"spatial": [feats_[:, i] for i in range(t)]}
        if t > 1:
            to_next, to_prev = self._compute_flows(small)
        else:
            empty = small.new_zeros(n, 0, 2, hp // 4, wp // 4)
            to_next = to_prev = empty
        for branch in BRANCHES:
            feats[branch] = []
            self._propagate(feats, to_next, to_prev, branch, pqf_flags)
        out = self._upsample(x, feats)
        return out[..., :h, :w]
