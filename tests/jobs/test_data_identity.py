"""The data identity (manifest hash) is computed once per run for each data configuration."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

from vsr_lightning.config_schema import register_configs
from vsr_lightning.jobs.pipeline import Pipeline

CONF = Path(__file__).resolve().parents[2] / "conf"
register_configs()


class _CountingData:
    computed = 0

    @property
    def manifest_hash(self) -> str:
        type(self).computed += 1
        return "feedfacecafebeef"


def _cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            config_name="train",
            overrides=[
                "+experiment=baseline",
                "logger=none",
                "data.cleaning_report=null",
                f"paths.runs_dir={tmp_path / 'runs'}",
                f"paths.output_root={tmp_path / 'out'}",
                f"paths.reports_dir={tmp_path / 'reports'}",
                *overrides,
            ],
        )


def test_arms_of_one_run_share_the_data_identity(tmp_path, monkeypatch):
    monkeypatch.setattr(_CountingData, "computed", 0)
    monkeypatch.setattr(Pipeline, "datamodule", lambda self, **overrides: _CountingData())
    identities: dict[str, str] = {}
    first, second = (
        Pipeline(_cfg(tmp_path), "a", identities),
        Pipeline(_cfg(tmp_path, "stage1.max_steps=3"), "b", identities),
    )
    for pipeline in (first, second, first):
        assert pipeline.data_spec()["manifest"] == "feedfacecafebeef"
        assert pipeline.log_config("stage1")["data_manifest_hash"] == "feedfacecafebeef"
    assert _CountingData.computed == 1
    Pipeline(_cfg(tmp_path, "data.val_max_frames=3"), "c", identities).data_spec()  # other data: its own identity
    assert _CountingData.computed == 2
