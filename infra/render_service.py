"""Render a Cloud Run service definition for `gcloud run services replace`.

Usage: render_service.py SERVICE_YAML > RENDERED_YAML

Replaces every ${NAME} placeholder in SERVICE_YAML with the environment variable NAME and writes
the result to stdout. Exits with status 1, naming each placeholder whose variable is unset or
empty, so that no placeholder is ever deployed. Other dollar signs are left as they are. Values
are inserted verbatim, so they must not contain YAML syntax (they come from Cloud Build
substitutions).
"""

import os
import re
import sys
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def find_missing(text: str, values: Mapping[str, str]) -> list[str]:
    """Return the placeholder names in text that have no value, sorted and without repeats."""
    return sorted({name for name in PLACEHOLDER.findall(text) if not values.get(name)})


def render(text: str, values: Mapping[str, str]) -> str:
    """Return text with every placeholder replaced. Raise KeyError for a name not in values."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: render_service.py SERVICE_YAML", file=sys.stderr)
        return 2

    with open(argv[1], encoding="utf-8") as source:
        text = source.read()
    missing = find_missing(text, os.environ)
    if missing:
        names = ", ".join(missing)
        print(f"render_service.py: no value for {names} in {argv[1]}", file=sys.stderr)
        return 1

    sys.stdout.write(render(text, os.environ))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
