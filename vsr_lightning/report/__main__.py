"""``python -m vsr_lightning.report``: see :mod:`vsr_lightning.report.cli`."""

from vsr_lightning.report.cli import main

raise SystemExit(main())
