"""SSIM of two luma frames in float64 numpy: the definition of ``video_quality.frame_ssim`` (Wang et al.
2004: Gaussian window 11, sigma 1.5, valid region) for scoring test sets.

``evaluate`` scores whole benchmark sequences on a CPU: float64 throughout (float32 loses the
variances of flat regions at peak 255), scipy's separable filter (about 5x faster than torch's
float64 convolution here), and no torch import (3 s) for a command that needs no network.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d


def ssim_of_luma_float64(pred: np.ndarray, target: np.ndarray, data_range: float = 255.0) -> float:
    """SSIM of two ``(H, W)`` luma frames; 'same'-size filtering cropped to the valid region."""
    window = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    window /= window.sum()
    r = len(window) // 2

    def blur(x: np.ndarray) -> np.ndarray:
        return correlate1d(correlate1d(x, window, axis=0), window, axis=1)[r:-r, r:-r]

    x, y = pred.astype(np.float64), target.astype(np.float64)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2, blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return float(ssim_map.mean())
