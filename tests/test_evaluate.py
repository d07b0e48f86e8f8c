"""`python -m vsr_lightning.evaluate`: tables in three formats, outputs of a prepared dataset, one-line errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from pair_media import write_hevc, write_yuv

from vsr_lightning.data.manifest import Manifest
from vsr_lightning.evaluate import main


@pytest.fixture()
def pair(tmp_path):
    rng = np.random.default_rng(1)
    planes = rng.integers(60, 200, (6, 48 * 3 // 2, 64), dtype=np.uint8)
    planes = np.repeat(np.repeat(planes[:, ::4, ::4], 4, axis=1), 4, axis=2)  # blocky: compresses well
    write_yuv(planes, tmp_path / "gt" / "Blocks_64x48_25.yuv")
    write_hevc(planes, tmp_path / "lq" / "Blocks_64x48_25.bin")
    write_hevc(planes, tmp_path / "out" / "Blocks_64x48_25.mkv", qp=22, fmt="matroska")
    return tmp_path


def test_writes_markdown_csv_latex_and_refuses_to_overwrite(pair, capsys):
    out = pair / "scores"
    args = [
        str(pair / "out"),
        "--gt",
        str(pair / "gt"),
        "--lq",
        str(pair / "lq"),
        "--protocol",
        "mfqe",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Blocks_64x48_25" in printed and "+1.083" in printed
    assert {p.name for p in out.iterdir()} == {"mfqe_scores.md", "mfqe_scores.csv", "mfqe_scores.tex"}
    row = next(line for line in (out / "mfqe_scores.csv").read_text().splitlines() if "Blocks" in line)
    assert float(row.split(",")[5]) > 0  # QP 22 output beats the QP 37 input
    assert "\\begin{tabular}" in (out / "mfqe_scores.tex").read_text()
    assert main(args) == 2
    assert "mfqe_scores.md: already exists" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_unpaired_output_and_frame_count_mismatch_are_one_line_errors(pair, capsys):
    shutil.copy(pair / "out" / "Blocks_64x48_25.mkv", pair / "out" / "Stray.mkv")
    args = ["--gt", str(pair / "gt"), "--lq", str(pair / "lq"), "--protocol", "ntire22"]
    assert main([str(pair / "out"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Stray" in err and "outputs without a GT" in err
    short = write_yuv(np.zeros((5, 72, 64), np.uint8), pair / "short" / "Blocks_64x48_25.yuv")
    assert main([str(short), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(pair / "gt" / "Blocks_64x48_25.yuv") in err and str(short) in err


def test_scores_outputs_of_a_prepared_dataset(mini_dataset, tmp_path, capsys):
    """An experiment's outputs (``<split>/<video>/NNN.png``, as stage one's cached outputs) against its data."""
    manifest = Manifest.load(mini_dataset)
    video = manifest.split("val")[0].name
    outputs = tmp_path / "outputs" / "val"
    shutil.copytree(mini_dataset / "val" / "lq_qp37" / video, outputs / video)
    code = main([str(outputs), "--dataset", str(mini_dataset), "--split", "val", "--protocol", "ntire22"])
    assert code == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(f"| {video} "))
    assert line.rstrip().endswith("| +0.000 |")


def test_readme_official_checkpoint_flow(tmp_path, capsys):
    """README "Benchmark data and scoring": import a test set (video layout), enhance every LQ with a
    BasicVSR++ file in MMagic's layout (as the NTIRE 2021 c128n25 release; tiny here), score with `evaluate`."""
    import torch

    from vsr_lightning import enhance
    from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
    from vsr_lightning.models.checkpoints import to_mmagic_state_dict
    from vsr_lightning.prepare import main as prepare

    rng = np.random.default_rng(2)
    for name in ("Alpha_64x48_25", "Beta_64x48_25"):
        planes = np.repeat(np.repeat(rng.integers(40, 220, (5, 36, 32), dtype=np.uint8), 2, 1), 2, 2)
        write_yuv(planes, tmp_path / "raw" / f"{name}.yuv")
        write_hevc(planes, tmp_path / "QP37" / f"{name}.bin")
    data = tmp_path / "mfqe2_test"
    assert (
        prepare(
            [
                "--pairs",
                str(tmp_path / "raw"),
                str(tmp_path / "QP37"),
                str(data),
                "--split",
                "test",
                "--layout",
                "video",
                "--quiet",
            ]
        )
        == 0
    )
    torch.manual_seed(0)
    net = BasicVSRPlusPlus(
        mid_channels=8, num_blocks=1, num_reconstruction_blocks=1, deform_groups=8, propagation="second_order"
    )
    weights = tmp_path / "basicvsr_plusplus_c128n25_ntire_decompress_track1.pth"
    torch.save(to_mmagic_state_dict(net), weights)
    lqs = sorted((data / "test" / "lq_qp37").glob("*.mkv"))
    assert [p.stem for p in lqs] == ["Alpha_64x48_25", "Beta_64x48_25"]
    for lq in lqs:
        assert (
            enhance.main(
                [str(lq), "-o", str(tmp_path / "outputs" / lq.stem), "--png", "--stage1", str(weights), "--no-progress"]
            )
            == 0
        )
    capsys.readouterr()
    assert (
        main(
            [
                str(tmp_path / "outputs"),
                "--dataset",
                str(data),
                "--split",
                "test",
                "--protocol",
                "mfqe",
                "--out",
                str(tmp_path / "scores"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| — | Alpha_64x48_25 | 5 |" in printed and "average (2 sequences)" in printed
