"""SwinIR (Liang et al., ICCVW 2021) for colour denoising / artifact reduction: stage two of the recipe.

No upsampler: shallow conv, residual Swin transformer blocks (RSTB), conv, global residual. Key names follow
the official release so its ``{'params': ...}`` weights load (see ``models/loading.py``). Any input size
works: the image is reflect-padded to a multiple of the window and shifted-window masks are built for the
actual size (cached), so the saved ``attn_mask`` buffers of the training patch size are never needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_RGB_MEAN = (0.4488, 0.4371, 0.4040)


def window_partition(x: Tensor, ws: int) -> Tensor:
    """(B,H,W,C) -> (B*nW, ws, ws, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, ws, ws, c)


def window_reverse(windows: Tensor, ws: int, h: int, w: int) -> Tensor:
    """(B*nW, ws, ws, C) -> (B,H,W,C)."""
    b = windows.shape[0] // ((h // ws) * (w // ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, -1)


def shifted_window_mask(h: int, w: int, ws: int, shift: int) -> Tensor:
    """(nW, ws*ws, ws*ws) additive mask (0 / -100) that stops attention across regions wrapped by the roll."""
    img = torch.zeros(1, h, w, 1)
    cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for wsl in cuts:
            img[:, hs, wsl, :] = label
            label += 1
    win = window_partition(img, ws).view(-1, ws * ws)
    diff = win.unsqueeze(1) - win.unsqueeze(2)
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


def relative_position_index(ws: int) -> Tensor:
    """(ws*ws, ws*ws) index into the (2ws-1)^2 relative-position bias table."""
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (ws - 1)
    return rel[:, :, 0] * (2 * ws - 1) + rel[:, :, 1]


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a window with a learned relative-position bias."""

    relative_position_index: Tensor  # a buffer (register_buffer in __init__)

    def __init__(self, dim: int, window_size: int, num_heads: int) -> None:
        super().__init__()
        self.dim = dim
        self.window_size = window_size
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x: (B*nW, N, C); mask: (nW, N, N) or None."""
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, -1).permute(2, 0, 1)  # heads, N, N
        if mask is not None:
            nw = mask.shape[0]
            full = bias.unsqueeze(0) + mask.unsqueeze(1).to(bias.dtype)  # nW, heads, N, N
            full = full.unsqueeze(0).expand(bw // nw, -1, -1, -1, -1).reshape(bw, self.num_heads, n, n)
        else:
            full = bias.unsqueeze(0)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=full, scale=self.scale)
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class Mlp(nn.Module):
    """fc1-GELU-fc2 (keys ``fc1``, ``fc2``)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinTransformerBlock(nn.Module):
    """(Shifted-)window attention + MLP, pre-norm, residual.

    ``attn_mask`` is registered for ``input_resolution`` like the official code (so state dicts match);
    other sizes use masks computed on first use and cached per size.
    """

    attn_mask: Tensor | None  # a buffer, None without a shift (register_buffer in __init__)

    def __init__(
        self,
        dim: int,
        input_resolution: tuple[int, int],
        num_heads: int,
        window_size: int,
        shift_size: int,
        mlp_ratio: float,
    ) -> None:
        super().__init__()
        if min(input_resolution) <= window_size:
            raise ValueError(f"img_size {input_resolution} must exceed window_size {window_size}")
        height, width = input_resolution
        self.input_resolution = (height, width)
        self.window_size = window_size
        self.shift_size = shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        mask = shifted_window_mask(*self.input_resolution, window_size, shift_size) if shift_size else None
        self.register_buffer("attn_mask", mask)
        self._mask_cache: dict[tuple, Tensor] = {}

    def _mask(self, h: int, w: int, ref: Tensor) -> Tensor | None:
        if not self.shift_size:
            return None
        if (h, w) == self.input_resolution and self.attn_mask is not None:
            return self.attn_mask
        key = (h, w, ref.device)
        if key not in self._mask_cache:
            self._mask_cache[key] = shifted_window_mask(h, w, self.window_size, self.shift_size).to(ref.device)
        return self._mask_cache[key]

    def forward(self, x: Tensor, x_size: tuple[int, int]) -> Tensor:
        h, w = x_size
        b, _, c = x.shape
        ws, s = self.window_size, self.shift_size
        shortcut = x
        x = self.norm1(x).view(b, h, w, c)
        if s:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
        windows = window_partition(x, ws).view(-1, ws * ws, c)
        windows = self.attn(windows, mask=self._mask(h, w, x))
        x = window_reverse(windows.view(-1, ws, ws, c), ws, h, w)
        if s:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        x = shortcut + x.reshape(b, h * w, c)
        return x + self.mlp(self.norm2(x))


class BasicLayer(nn.Module):
    """A stack of blocks alternating regular and shifted windows (key ``blocks``)."""

    def __init__(
        self,
        dim: int,
        input_resolution: tuple[int, int],
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [
                SwinTransformerBlock(
                    dim, input_resolution, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2, mlp_ratio
                )
                for i in range(depth)
            ]
        )

    def forward(self, x: Tensor, x_size: tuple[int, int]) -> Tensor:
        for blk in self.blocks:
            x = blk(x, x_size)
        return x


class RSTB(nn.Module):
    """Residual Swin Transformer Block: Swin layer, 3x3 conv, residual (keys ``residual_group``, ``conv``)."""

    def __init__(
        self,
        dim: int,
        input_resolution: tuple[int, int],
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
    ) -> None:
        super().__init__()
        self.residual_group = BasicLayer(dim, input_resolution, depth, num_heads, window_size, mlp_ratio)
        self.conv = nn.Conv2d(dim, dim, 3, 1, 1)

    def forward(self, x: Tensor, x_size: tuple[int, int]) -> Tensor:
        b, _, c = x.shape
        y = self.residual_group(x, x_size).transpose(1, 2).reshape(b, c, *x_size)
        return self.conv(y).flatten(2).transpose(1, 2) + x


class PatchEmbed(nn.Module):
    """(B,C,H,W) -> (B,HW,C) with optional LayerNorm (key ``norm``)."""

    def __init__(self, dim: int, norm: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim) if norm else None

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(2).transpose(1, 2)
        return self.norm(x) if self.norm is not None else x


class SwinIR(nn.Module):
    """SwinIR without upsampler (denoising / compression artifact reduction), input and output in [0,1]."""

    mean: Tensor  # a non-persistent buffer (register_buffer in __init__)

    def __init__(
        self,
        img_size: int = 128,
        in_chans: int = 3,
        embed_dim: int = 180,
        depths: Sequence[int] = (6, 6, 6, 6, 6, 6),
        num_heads: Sequence[int] = (6, 6, 6, 6, 6, 6),
        window_size: int = 8,
        mlp_ratio: float = 2.0,
        img_range: float = 1.0,
        patch_norm: bool = True,
        resi_connection: str = "1conv",
    ) -> None:
        super().__init__()
        if resi_connection != "1conv":
            raise NotImplementedError("only resi_connection='1conv' (the released denoising models) is built")
        if len(depths) != len(num_heads):
            raise ValueError("depths and num_heads must have the same length")
        self.window_size = window_size
        self.embed_dim, self.max_heads = embed_dim, max(num_heads)
        self.img_range = img_range
        # Official SwinIR subtracts the DIV2K RGB mean for 3-channel inputs (a plain attribute, not saved).
        mean = _RGB_MEAN if in_chans == 3 else (0.0,) * in_chans
        self.register_buffer("mean", torch.tensor(mean).view(1, in_chans, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_embed = PatchEmbed(embed_dim, patch_norm)
        res = (img_size, img_size)
        self.layers = nn.ModuleList(
            [RSTB(embed_dim, res, d, h, window_size, mlp_ratio) for d, h in zip(depths, num_heads, strict=True)]
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, 1, 1)
        self.conv_last = nn.Conv2d(embed_dim, in_chans, 3, 1, 1)
        self.apply(self._init_weights)
        # The refiner predicts a residual: starting it at zero makes an untrained SwinIR the identity,
        # so training from scratch never begins below its input (released weights overwrite this).
        nn.init.zeros_(self.conv_last.weight)
        assert self.conv_last.bias is not None  # Conv2d's default bias=True
        nn.init.zeros_(self.conv_last.bias)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    # what inference asks (inference/protocol.py)
    @property
    def size_multiple(self) -> int:
        """Tile sides are multiples of the attention window, so tiles need no padding of their own."""
        return self.window_size

    @property
    def flow_network(self) -> None:
        """No flow network."""
        return None

    def inference_bytes(self, frames: int, height: int, width: int) -> int:
        """A safe estimate of the working set of an inference-mode ``forward`` on ``frames`` images.

        About ``90 D`` bytes per pixel for the token features, QKV and MLP temporaries (D = embed dim),
        plus the attention scores (``128 x heads``) and convolution buffers. Calibrated against the peak
        resident memory growth on the CPU: SwinIR-M needs 14-16 KB per pixel, so a 1080p frame does
        not fit in memory without tiles.
        """
        per_pixel = 90 * self.embed_dim + 128 * self.max_heads + 1024
        return int(frames * height * width * per_pixel)

    def forward_features(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        t = self.patch_embed(x)
        for layer in self.layers:
            t = layer(t, (h, w))
        return self.norm(t).transpose(1, 2).reshape(b, c, h, w)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N,C,H,W), any H,W."""
        h, w = x.shape[-2:]
        ws = self.window_size
        ph, pw = (-h) % ws, (-w) % ws
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, [0, pw, 0, ph], mode=mode)
        mean = self.mean.to(x.dtype)
        x = (x - mean) * self.img_range
        first = self.conv_first(x)
        res = self.conv_after_body(self.forward_features(first)) + first
        x = x + self.conv_last(res)
        x = x / self.img_range + mean
        return x[..., :h, :w]


def swinir_m(img_size: int = 128, window_size: int = 8) -> SwinIR:
    """SwinIR-M as released for colour denoising (~11.5 M parameters); window 7 for JPEG models."""
    return SwinIR(
        img_size=img_size, embed_dim=180, depths=(6,) * 6, num_heads=(6,) * 6, window_size=window_size, mlp_ratio=2.0
    )


def swinir_small(img_size: int = 64) -> SwinIR:
    """A tiny SwinIR for CPU tests and smoke runs."""
    return SwinIR(img_size=img_size, embed_dim=32, depths=(2, 2), num_heads=(2, 2), window_size=8, mlp_ratio=2.0)
