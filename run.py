"""Main entry point: ``python run.py [+experiment=NAME] [overrides]`` (Hydra).

Until the training issue lands, the main job prepares the data of the configuration (the embedded
default dataset unless overridden), applies cleaning when configured, and prints a summary.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from vsr_lightning.data_summary import summarize_datamodule


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    print(summarize_datamodule(datamodule))


if __name__ == "__main__":
    main()
