"""The filmed stills: a real moving camera over a photograph, deterministic, and a dark letterboxed copy."""

import numpy as np
from PIL import Image

from vsr_lightning.zoo.stills_motion import FRAMES, SIZE, camera_path, dark_letterboxed, film_still


def _photo() -> Image.Image:
    rng = np.random.default_rng(3)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(300, 400, 3)), 0), 1)
    smooth = (smooth - smooth.min()) / np.ptp(smooth) * 255
    return Image.fromarray(smooth.astype(np.uint8))


def test_camera_path_moves_smoothly() -> None:
    path = camera_path(np.random.default_rng(0), 200)
    steps = np.abs(np.diff(path[:, :2], axis=0))
    assert steps.max() < 3.0
    assert np.abs(path[-1, :2] - path[0, :2]).max() > 1.0


def test_film_still_is_deterministic_sized_and_moving() -> None:
    a = film_still(_photo(), np.random.default_rng(1))
    b = film_still(_photo(), np.random.default_rng(1))
    assert len(a) == FRAMES and all(f.shape == (SIZE[1], SIZE[0], 3) and f.dtype == np.uint8 for f in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert all(np.abs(x.astype(int) - y).mean() > 0.1 for x, y in zip(a, a[1:], strict=False))


def test_dark_letterboxed_has_black_bars_and_darker_content() -> None:
    views = film_still(_photo(), np.random.default_rng(2))
    dark = dark_letterboxed(views, np.random.default_rng(2))
    bar = int(SIZE[1] * 0.08)
    for plain, frame in zip(views, dark, strict=True):
        assert not frame[:bar].any() and not frame[-bar:].any()
        middle = slice(SIZE[1] // 3, 2 * SIZE[1] // 3)
        assert frame[middle].mean() < plain[middle].mean()
