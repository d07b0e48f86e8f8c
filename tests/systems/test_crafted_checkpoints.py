"""Crafted checkpoints run no code: refused with one line naming the file and the key, no marker file ever made.

Each payload would write a marker file if it ran (``test_payloads_are_live`` shows it, never unpickling one);
every refusal is checked through ``load_network`` and through the ``enhance`` command line.
"""

from __future__ import annotations

import os
import pickletools
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from vsr_lightning.data.video_io import VideoWriter
from vsr_lightning.enhance import main
from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.loading import load_network

pytestmark = pytest.mark.usefixtures("single_thread")

NET = "vsr_lightning.models.basicvsr_pp.BasicVSRPlusPlus"
GOOD = {
    "_target_": NET,
    "mid_channels": 8,
    "num_blocks": 1,
    "num_reconstruction_blocks": 2,
    "propagation": "pqf",
    "pqf_period": 4,
    "deform_groups": 8,
}
ALLOWED = "allowed: vsr_lightning.models.basicvsr_pp.BasicVSRPlusPlus, vsr_lightning.models.swinir.SwinIR"
PLAIN = "must be an int, float, str, bool, None or a list of those"


class SystemCall:
    """Unpickles into ``os.system(command)``: the classic pickle payload."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return os.system, (self.command,)


@pytest.fixture(scope="module")
def weights() -> dict[str, torch.Tensor]:
    net = BasicVSRPlusPlus(**{k: v for k, v in GOOD.items() if k != "_target_"})
    return {f"net.{k}": v for k, v in net.state_dict().items()}


def _touch(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


def _save_call(marker: Path) -> dict[str, Any]:
    """Arguments that make ``torch.save`` write the marker."""
    return {"obj": 1, "f": str(marker)}


def _payloads(marker: Path, weights: dict[str, torch.Tensor]) -> dict[str, tuple[dict[str, Any], str]]:
    """name -> (what replaces or joins the good checkpoint's entries, the error after 'checkpoint FILE: ')."""
    walk_save = "vsr_lightning.models.basicvsr_pp.torch.save"
    walk_system = "vsr_lightning.models.checkpoints.torch.serialization.os.system"
    nested = {"_target_": walk_save, **_save_call(marker)}
    return {
        "pickle": (
            {"extra": SystemCall(_touch(marker))},
            "refused: it asks to load posix.system (pickled code or objects; only tensors and plain "
            "containers are read, weights_only=True)",
        ),
        "walk_torch_save": (
            {"vsr_model": {"_target_": walk_save, **_save_call(marker)}},
            f"model config key '_target_': {walk_save!r} is not an allowed network ({ALLOWED})",
        ),
        "walk_os_system": (
            {"vsr_model": {"_target_": walk_system, "command": _touch(marker)}},
            f"model config key '_target_': {walk_system!r} is not an allowed network ({ALLOWED})",
        ),
        "class_attribute": (
            {"vsr_model": {"_target_": NET + ".grow", "extra_blocks": 1}},
            f"model config key '_target_': '{NET}.grow' is not an allowed network ({ALLOWED})",
        ),
        "near_miss": (
            {"vsr_model": {**GOOD, "_target_": NET + " "}},
            f"model config key '_target_': '{NET} ' is not an allowed network ({ALLOWED})",
        ),
        "target_not_text": (
            {"vsr_model": {**GOOD, "_target_": [walk_save]}},
            f"model config key '_target_': [{walk_save!r}] is not an allowed network ({ALLOWED})",
        ),
        "no_target": (
            {"vsr_model": {k: v for k, v in GOOD.items() if k != "_target_"}},
            "model config has no '_target_'",
        ),
        "nested_target": (
            {"vsr_model": {**GOOD, "mid_channels": nested}},
            f"model config key 'mid_channels': {PLAIN}, got dict",
        ),
        "nested_in_dropped_key": (
            {"vsr_model": {**GOOD, "spynet_path": nested}},
            f"model config key 'spynet_path': {PLAIN}, got dict",
        ),
        "nested_in_list": (
            {"vsr_model": {**GOOD, "pqf_period": [1, nested]}},
            f"model config key 'pqf_period': {PLAIN}, got list holding dict",
        ),
        "args": (
            {"vsr_model": {**GOOD, "_args_": [_touch(marker)]}},
            "model config key '_args_': not a parameter of BasicVSRPlusPlus",
        ),
        "partial": (
            {"vsr_model": {**GOOD, "_partial_": True}},
            "model config key '_partial_': not a parameter of BasicVSRPlusPlus",
        ),
        "recursive": (
            {"vsr_model": {**GOOD, "_recursive_": False}},
            "model config key '_recursive_': not a parameter of BasicVSRPlusPlus",
        ),
        "unknown_key": (
            {"vsr_model": {**GOOD, "command": _touch(marker)}},
            "model config key 'command': not a parameter of BasicVSRPlusPlus",
        ),
        "tensor_value": (
            {"vsr_model": {**GOOD, "mid_channels": torch.tensor(8)}},
            f"model config key 'mid_channels': {PLAIN}, got Tensor",
        ),
        "config_not_mapping": (
            {"vsr_model": [walk_save]},
            "no 'vsr_model' config to rebuild the network from; pass model_config",
        ),
        "config_only": (
            {"state_dict": None, "vsr_model": {"_target_": walk_save, **_save_call(marker)}},
            "has 'vsr_model' but no 'state_dict' with the network's weights",
        ),
        "huge_network": (
            {"vsr_model": {**GOOD, "mid_channels": 100_000}},
            "model config asks for a BasicVSRPlusPlus with 6,751,032 M parameters (more than 500 M: "
            "not a network this project runs)",
        ),
        "injected_state_entry": (
            {"state_dict": {**weights, "net.evil": nested}},
            "non-tensor network entries ['evil']",
        ),
    }


def _write(path: Path, weights: dict[str, torch.Tensor], entries: dict[str, Any], job: str = "stage1") -> Path:
    """Our checkpoint layout with ``entries`` replacing or joining its own (a None entry is left out)."""
    obj: dict[str, Any] = {"state_dict": dict(weights), "vsr_model": dict(GOOD), "vsr_job_type": job, **entries}
    torch.save({k: v for k, v in obj.items() if v is not None}, path)
    return path


CASES = sorted(_payloads(Path("m"), {}))


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("crafted_input") / "in.mkv"
    with VideoWriter(path, fps=25.0) as writer:
        for i in range(3):
            writer.write(torch.full((16, 16, 3), 40 * i, dtype=torch.uint8).numpy())
    return path


def _crafted(
    tmp_path: Path, weights: dict[str, torch.Tensor], name: str, job: str = "stage1"
) -> tuple[Path, Path, str]:
    """The crafted file, the marker it would write if it ran code, and the exact error line expected."""
    marker = tmp_path / "MARKER"
    entries, problem = _payloads(marker, weights)[name]
    path = _write(tmp_path / f"{name}.ckpt", weights, entries, job)
    return path, marker, f"checkpoint {path}: {problem}"


@pytest.mark.parametrize("name", CASES)
def test_load_network_refuses_with_one_line(tmp_path, weights, name):
    path, marker, line = _crafted(tmp_path, weights, name)
    with pytest.raises(ValueError) as info:
        load_network(path, "stage1")
    assert str(info.value) == line
    assert not marker.exists()


@pytest.mark.parametrize("name", CASES)
def test_enhance_refuses_with_one_line(tmp_path, weights, video, capsys, name):
    path, marker, line = _crafted(tmp_path, weights, name)
    out = tmp_path / "out.mkv"
    assert main([str(video), "-o", str(out), "--stage1", str(path), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {line}\n" and captured.out == ""
    assert not marker.exists() and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.slow  # one enhance process each; test_enhance_refuses_with_one_line runs every payload in-process
@pytest.mark.parametrize(
    ("name", "option"),
    [
        ("pickle", "--stage1"),
        ("walk_os_system", "--stage1"),
        ("nested_target", "--stage1"),
        ("walk_torch_save", "--stage2"),
        ("pickle", "--stage2"),
    ],
)
def test_enhance_command_exits_2_without_traceback(tmp_path, weights, video, name, option):
    path, marker, line = _crafted(tmp_path, weights, name, job=option[2:])
    stage1 = _write(tmp_path / "good.ckpt", weights, {}) if option == "--stage2" else path
    stage2 = ["--stage2", str(path)] if option == "--stage2" else []
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vsr_lightning.enhance",
            str(video),
            "-o",
            str(tmp_path / "out.mkv"),
            "--stage1",
            str(stage1),
            *stage2,
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, f"error: {line}\n", "")
    assert not marker.exists() and not (tmp_path / "out.mkv").exists()


def test_injected_top_level_entries_are_never_built(tmp_path, weights):
    """Entries we do not read (Lightning's, or planted) stay data: the good network loads, nothing runs."""
    marker = tmp_path / "MARKER"
    evil = {"_target_": "vsr_lightning.models.basicvsr_pp.torch.save", **_save_call(marker)}
    path = _write(
        tmp_path / "final.ckpt",
        weights,
        {"hyper_parameters": {"model": evil}, "callbacks": evil, "vsr_lineage": [evil], "vsr_val_history": evil},
    )
    assert isinstance(load_network(path, "stage1"), BasicVSRPlusPlus)
    assert not marker.exists()


def _pickle_globals_and_strings(path: Path) -> tuple[set[str], set[str]]:
    """The globals a checkpoint's pickle would import and the strings it holds, read without unpickling."""
    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith("/data.pkl")))
    imports, strings, recent = set(), set(), []
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name == "GLOBAL":
            imports.add(str(arg))
        elif opcode.name == "STACK_GLOBAL":
            imports.add(" ".join(recent[-2:]))
        elif isinstance(arg, str):
            strings.add(arg)
            recent.append(arg)
    return imports, strings


def test_payloads_are_live(tmp_path, weights):
    """The crafted files would run code in a naive loader: the pickle calls ``os.system`` with the marker's
    command (read statically, never unpickled), and Hydra's instantiate of a walked target writes the marker."""
    from hydra.utils import instantiate

    marker = tmp_path / "MARKER"
    path, _, _ = _crafted(tmp_path, weights, "pickle")
    imports, strings = _pickle_globals_and_strings(path)
    assert f"{os.system.__module__} system" in imports and _touch(marker) in strings
    subprocess.run(shlex.split(_touch(marker)), check=True)  # the command itself does write the marker
    assert marker.exists()
    marker.unlink()
    instantiate(_payloads(marker, weights)["walk_torch_save"][0]["vsr_model"])
    assert marker.exists()


def test_caller_configs_go_through_the_allowlist_too(tmp_path, weights):
    """A config passed in (ours, from Hydra) is checked the same way: one rule, whatever the source."""
    marker = tmp_path / "MARKER"
    path = _write(tmp_path / "noconfig.ckpt", weights, {"vsr_model": None})
    walk = {"_target_": "vsr_lightning.models.basicvsr_pp.torch.save", **_save_call(marker)}
    with pytest.raises(ValueError) as info:
        load_network(path, "stage1", model_config=walk)
    assert str(info.value) == (
        f"checkpoint {path}: model config key '_target_': "
        f"'vsr_lightning.models.basicvsr_pp.torch.save' is not an allowed network ({ALLOWED})"
    )
    official = tmp_path / "official.pth"
    torch.save({"params": {k[len("net.") :]: v for k, v in weights.items()}}, official)
    with pytest.raises(ValueError) as info:
        load_network(official, "stage1", model_config={"command": _touch(marker)})
    assert str(info.value) == f"checkpoint {official}: model config key 'command': not a parameter of BasicVSRPlusPlus"
    assert isinstance(load_network(path, "stage1", model_config={**GOOD, "_convert_": "all"}), BasicVSRPlusPlus)
    assert not marker.exists()
