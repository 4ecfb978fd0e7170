"""Where the embedded default model bundle lives.

The default bundle is package data of the `radlabel_models` package (the repository's
`models/` folder), so it is resolved from the installed code: the CLI, the service and a
non-editable wheel install all find it whatever the working directory. `$RADLABEL_MODEL`
overrides it.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

MODEL_ENV = "RADLABEL_MODEL"
DEFAULT_NAME = "default"


def embedded_bundle(name: str = DEFAULT_NAME) -> Path:
    """The directory of an embedded bundle (it may not exist if the package was built without it)."""
    return Path(str(resources.files("radlabel_models").joinpath(name)))


def default_bundle() -> Path:
    """The bundle used when none is given: `$RADLABEL_MODEL`, else the embedded default."""
    override = os.environ.get(MODEL_ENV)
    return Path(override) if override else embedded_bundle()
