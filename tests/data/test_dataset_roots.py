"""`data=ldv2` / `data=mfqe2`: roots set once (environment or git-ignored conf/local/), composed with
`+experiment=paper_scale`, and one clear line when a root is unset or not a dataset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from pair_media import write_hevc, write_yuv

from vsr_lightning.config_schema import BadConfigValue, check_known_keys, check_values, register_configs
from vsr_lightning.prepare import main as prepare

ROOT = Path(__file__).resolve().parents[2]
register_configs()


def _compose(overrides: list[str], conf: Path = ROOT / "conf"):
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """A tiny benchmark-style dataset (two JCT-VC named sequences), imported with `prepare --pairs`."""
    tmp = tmp_path_factory.mktemp("bench")
    rng = np.random.default_rng(5)
    for name in ("Alpha_64x32_25", "Beta_64x32_25"):
        planes = np.repeat(np.repeat(rng.integers(40, 220, (5, 24, 32), dtype=np.uint8), 2, 1), 2, 2)
        write_yuv(planes, tmp / "gt" / f"{name}.yuv")
        write_hevc(planes, tmp / "lq" / f"{name}.bin")
    (tmp / "test.txt").write_text("Beta\n")
    out = tmp / "mfqe2"
    assert (
        prepare(
            ["--pairs", str(tmp / "gt"), str(tmp / "lq"), str(out), "--test-list", str(tmp / "test.txt"), "--quiet"]
        )
        == 0
    )
    return out


@pytest.mark.parametrize(
    ("data", "env", "val_split"), [("ldv2", "VSR_LDV2_ROOT", "val"), ("mfqe2", "VSR_MFQE2_ROOT", "test")]
)
def test_paper_scale_composes_with_the_root_from_the_environment(imported, monkeypatch, data, env, val_split):
    monkeypatch.setenv(env, str(imported))
    cfg = _compose(["+experiment=paper_scale", f"data={data}"])
    check_known_keys(cfg)
    check_values(cfg)
    assert cfg.data.train_sources[0].root == str(imported) and cfg.data.window == 30  # paper_scale's sizes
    assert cfg.data.val_source.split == val_split
    if data == "mfqe2":
        dm = instantiate(cfg.data, cleaning_report=None)  # its default names Hydra's run folder
        dm.setup("validate")
        assert [v.name for v in dm.val_set.videos] == ["Beta_64x32_25"]


def _this_machines_local_config(folder: str, names: list[str]) -> list[str]:
    """``conf/local/default.yaml`` stays out of the copy (other groups' ``default.yaml`` are kept)."""
    return ["default.yaml"] if Path(folder).name == "local" else []


def test_local_config_sets_the_root_and_wins_over_the_environment(imported, tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf, ignore=_this_machines_local_config)
    (conf / "local" / "default.yaml").write_text(f"paths:\n  mfqe2_root: {imported}\n")
    monkeypatch.setenv("VSR_MFQE2_ROOT", str(tmp_path / "elsewhere"))
    cfg = _compose(["+experiment=paper_scale", "data=mfqe2"], conf)
    check_values(cfg)
    assert cfg.data.val_source.root == str(imported)


@pytest.mark.parametrize("where", ["unset", "missing", "not_a_dataset"])
def test_unset_or_wrong_root_is_one_line(tmp_path, monkeypatch, where):
    monkeypatch.delenv("VSR_LDV2_ROOT", raising=False)
    if where != "unset":
        folder = tmp_path / "ldv2"
        if where == "not_a_dataset":
            folder.mkdir()
        monkeypatch.setenv("VSR_LDV2_ROOT", str(folder))
    cfg = _compose(["data=ldv2"])
    with pytest.raises(BadConfigValue) as info:
        check_values(cfg)
    line = str(info.value)
    assert "\n" not in line and line.startswith("config key 'data.train_sources[0].root' is ")
    assert "VSR_LDV2_ROOT" in line and "conf/local/default.yaml" in line
    expected = {"unset": "is not set", "missing": "does not exist", "not_a_dataset": "holds no manifest.json"}
    assert expected[where] in line


@pytest.mark.slow  # a whole run.py process: about a minute on a loaded 2-core machine
def test_run_exits_2_with_one_line_when_the_root_is_unset(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "VSR_MFQE2_ROOT"}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "+experiment=paper_scale",
            "data=mfqe2",
            "logger=none",
            f"paths.output_root={tmp_path}",
            f"paths.runs_dir={tmp_path}/runs",
            f"paths.reports_dir={tmp_path}/reports",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "VSR_MFQE2_ROOT" in lines[0] and lines[0].startswith("error: ")
