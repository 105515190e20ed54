"""A project: one folder holding a site's policy, its data and ``avowal.toml``, so that the
server and every command use the same policy and the same data.

``avowal init NAME`` makes one. A command run in the folder (or given ``--project DIR``, or
``AVOWAL_PROJECT``) reads its settings from ``avowal.toml``: the same keys as the ``AVOWAL_``
environment variables, in lower case and without the prefix (``policy_file``, ``data_dir``,
``public_url``, ...). A relative path in it is relative to the project's folder, wherever the
command runs. An environment variable still wins over the file (a deployment's secrets stay in
its environment); the file wins over the defaults.

Only the folder the command runs in is looked at, never its parents: a project is used because
it is there or named, not found by surprise.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avowal.lib.errors import AvowalError
from avowal.policy import suggest

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

CONFIG_NAME = "avowal.toml"
ENV = "AVOWAL_PROJECT"


class ProjectConfigError(AvowalError):
    """The project's configuration cannot be used; the message says why and where."""


def find(cwd: Path | None = None) -> Path | None:
    """Return the configuration file in use: ``AVOWAL_PROJECT`` (a folder or the file itself),
    else ``avowal.toml`` in the folder the command runs in; None without one."""
    named = os.environ.get(ENV)
    if named:
        path = Path(named).expanduser()
        target = path / CONFIG_NAME if path.is_dir() or not path.suffix else path
        if not target.is_file():
            raise ProjectConfigError(f"{ENV}={named}: no {CONFIG_NAME} there")
        return target.resolve()
    here = (cwd or Path.cwd()) / CONFIG_NAME
    return here.resolve() if here.is_file() else None


def read(config: Path, fields: dict[str, FieldInfo]) -> dict[str, Any]:
    """Return the settings of a configuration file, relative paths made the project folder's;
    raise naming an unreadable file, bad TOML or an unknown key (with the closest known)."""
    try:
        values = tomllib.loads(config.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProjectConfigError(f"cannot read {config}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectConfigError(f"{config}: not valid TOML: {exc}") from None
    folder = config.parent
    found: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            hint = suggest.did_you_mean(suggest.close(key, fields))
            raise ProjectConfigError(f"{config}: unknown setting '{key}'{hint}")
        if _is_path(fields[key]) and isinstance(value, str):
            path = Path(value).expanduser()
            value = str(path if path.is_absolute() else folder / path)
        found[key] = value
    return found


def _is_path(field: FieldInfo) -> bool:
    return "Path" in repr(field.annotation)


def describe(config: Path, policy_file: Path, data_dir: Path) -> str:
    """The line a command prints to say which project, policy and data it uses."""
    return f"avowal: project {config.parent} (policy {policy_file}, data {data_dir})"


def config_text(policy: str, data: str) -> str:
    """The ``avowal.toml`` that ``avowal init`` writes."""
    return (
        "# avowal's settings for this project: every `avowal` command run in this folder (or\n"
        "# given --project) uses them. Keys are the AVOWAL_ environment variables in lower\n"
        "# case; an environment variable overrides its key here. Relative paths are this\n"
        "# folder's.\n"
        f'policy_file = "{policy}"\n'
        f'data_dir = "{data}"\n'
        '# public_url = "https://www.example.com"   # in development it follows `serve --port`\n'
    )
