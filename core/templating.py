"""Jinja2 rendering of everything in core/templates/: strict, so a missing value is an error."""

from __future__ import annotations

import functools
import json
import shlex

import jinja2

from .assets import TEMPLATES_DIR


@functools.lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson_compact"] = lambda value: json.dumps(value, sort_keys=True)
    env.filters["shell_quote"] = lambda value: shlex.quote(str(value))
    return env


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)
