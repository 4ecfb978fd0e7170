"""Write the app's OpenAPI document as YAML (`openapi.yaml` at the repository root).

The file is generated, never edited: `make openapi` rewrites it, and a test fails when the
committed copy differs from what the app produces.
"""

from __future__ import annotations

import sys

import yaml

from service.app import create_app
from service.settings import ServiceSettings


def render() -> str:
    """The OpenAPI document of an app built with default settings (rule labeler: no model needed)."""
    app = create_app(ServiceSettings(labeler="rules", _env_file=None))  # type: ignore[call-arg]
    return str(yaml.safe_dump(app.openapi(), sort_keys=False, allow_unicode=True, width=100))


def main() -> None:
    """Print the document to stdout."""
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
