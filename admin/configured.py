"""What the configuration files declare, read as plain TOML (the admin service imports no
other service): the webhook sources (``ingress.sources_file``) and the connectors
(``connectors.config_file``). A missing or unreadable file declares nothing (the admin API
may run where only some services are configured); secrets are never read.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from hookline.config_files import ConfigFileError, load_document, section_tables


def tables(path: Path, section: str) -> dict[str, dict[str, Any]]:
    """``[section.<name>]`` tables of ``path`` by name; {} when the file is missing or bad."""
    try:
        found = section_tables(load_document(path), section)
    except (OSError, tomllib.TOMLDecodeError, ConfigFileError):
        return {}
    return {name: table for name, table in found.items() if isinstance(table, dict)}


def text(table: dict[str, Any], *path: str) -> str | None:
    """A string value at ``path`` inside ``table``, else None."""
    value: Any = table
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None
