"""Every bad stack config file is one clean error: a seeded corpus of a few hundred malformed files
(wrong types, huge numbers, unknown and missing keys, broken YAML, binary, UTF-16, duplicate keys,
alias bombs and self-referring aliases) through the loader, and a sample through the real command:
exit 2, the file and config path in one message, no traceback, nothing written."""

from __future__ import annotations

import copy
import random

import pytest
import yaml
from fleet_fixtures import stack_config, write_stack_file

from core.spec import SHOWN_MAX, FleetSpec
from core.spec_loader import SpecError, load_stack_file

SEED = 20261202
ODD_VALUES = [True, False, None, [], {}, "", -1, 0, 10**400, 1e308, -1e308, 3.5, "x" * 5000, "\n", "$(reboot)", {"a": 1}, ["a"]]
MESSAGE_LINE_MAX = 2 * SHOWN_MAX + 300  # a path, a message and at most two shortened values


def _paths(value, prefix=()):
    """Every path to a value in a config (mapping keys and list indexes)."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _set(config, path, value):
    target = config
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _delete(config, path):
    target = config
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]


def _document(config) -> str:
    return yaml.safe_dump({"config": {f"gpu-fleet:{k}": v for k, v in config.items()}}, sort_keys=False)


def structural_cases(rng: random.Random, count: int) -> list[str]:
    cases = []
    for _ in range(count):
        config = stack_config(rng.choice(["dev", "staging", "prod"]))
        paths = [p for p in _paths(config) if p]
        path = rng.choice(paths)
        kind = rng.randrange(3)
        if kind == 0:
            _set(config, path, copy.deepcopy(rng.choice(ODD_VALUES)))
        elif kind == 1:
            _delete(config, path)
        else:
            parent = [p for p in paths if isinstance(_get(config, p), dict)]
            _set(config, (*rng.choice(parent), "bogusKey"), 1) if parent else None
        cases.append(_document(config))
    return cases


def _get(config, path):
    for part in path:
        config = config[part]
    return config


def textual_cases(rng: random.Random, count: int) -> list[bytes]:
    base = _document(stack_config("prod")).encode()
    lines = base.splitlines(keepends=True)
    cases = []
    for _ in range(count):
        kind = rng.randrange(5)
        if kind == 0:
            cases.append(base[: rng.randrange(len(base))])
        elif kind == 1:
            at = rng.randrange(len(base))
            cases.append(base[:at] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8))) + base[at:])
        elif kind == 2:
            at = rng.randrange(len(lines))
            cases.append(b"".join(lines[: at + 1] + lines[at:]))  # a duplicated line: usually a duplicate key
        elif kind == 3:
            at = rng.randrange(len(lines))
            cases.append(b"".join(lines[:at] + [b"\t" + lines[at]] + lines[at + 1 :]))
        else:
            cases.append(base.replace(b": ", b"= ", rng.randrange(1, 4)))
    return cases


def special_cases() -> list[bytes]:
    bomb = "config:\n  a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
    )
    return [
        b"",
        b"null\n",
        b"[]\n",
        b"config: []\n",
        b"config: {}\n",
        b"just text\n",
        bytes(range(256)),
        "config:\n  gpu-fleet:cluster: {mode: existing, name: a}\n".encode("utf-16"),
        b"\xef\xbb\xbfconfig: {}\n",
        bomb.encode(),
        b"config:\n  gpu-fleet:cluster: &a [*a]\n",
        b"config:\n  gpu-fleet:cluster: {mode: existing, name: a, name: b}\n",
        _document(stack_config("dev")).encode().replace(b"config:\n", b"config:\n  gpu-fleet:nodePools: []\n", 1),
        ("config: " + "[" * 5000 + "]" * 5000).encode(),
        b"config:\n  gpu-fleet:cluster: !!python/object/apply:os.system ['reboot']\n",
        b"x" * (2 << 20),
    ]


def corpus() -> list[bytes]:
    rng = random.Random(SEED)
    return special_cases() + [c.encode() for c in structural_cases(rng, 200)] + textual_cases(rng, 120)


def test_every_malformed_file_is_one_clean_error(tmp_path):
    path = tmp_path / "Pulumi.bad.yaml"
    outcomes = {"accepted": 0, "rejected": 0}
    for index, content in enumerate(corpus()):
        path.write_bytes(content)
        try:
            spec = load_stack_file(path)
        except SpecError as error:
            outcomes["rejected"] += 1
            text = error.render()
            for line in text.splitlines():
                assert line.startswith(f"{path}: "), (index, line)
                assert len(line) <= MESSAGE_LINE_MAX, (index, len(line))
                assert line.isprintable(), (index, line)
        else:
            outcomes["accepted"] += 1
            assert isinstance(spec, FleetSpec)
    assert outcomes["rejected"] > 250 and outcomes["accepted"] > 0, outcomes  # both paths exercised


def test_the_corpus_is_seeded_and_broad():
    first, second = corpus(), corpus()
    assert first == second and len(first) > 300


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("binary", bytes(range(256)), "not UTF-8"),
        ("utf16", "config: {}\n".encode("utf-16"), "UTF-16"),
        ("bomb", special_cases()[9], "aliases expand"),
        ("recursive", b"config:\n  gpu-fleet:cluster: &a [*a]\n", "contains it"),
        ("duplicate", b"config:\n  gpu-fleet:tenants: []\n  gpu-fleet:tenants: []\n", "duplicate key"),
    ],
)
def test_the_cli_names_the_file_and_exits_2(gpufleet, tmp_path, name, content, expected):
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_bytes(content)
    for args in (["check", "--config", str(path)], ["plan", "--stack", "dev", "--compare-to", str(path)]):
        result = gpufleet(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr and str(path) in result.stderr
        assert "Traceback" not in result.stderr
    out = tmp_path / "out"
    assert gpufleet("render", "--config", str(path), "--out", str(out)).returncode == 2
    assert not out.exists()


@pytest.mark.parametrize(
    "field, value, expected",
    [
        (("tenants", 0, "gpuQuota"), True, "valid integer"),
        (("nodePools", 0, "maxSize"), 10**400, "less than or equal to 450"),
        (("tenants", 0, "gpuQuota"), 1e308, "valid integer"),
        (("cluster", "kubernetesVersion"), "", "not a Kubernetes version"),
        (("monitoring",), {"exporterVersion": ""}, "not an image tag"),
        (("devicePlugin",), {"version": ""}, "not an image tag"),
        (("cluster", "name"), "a" * 50, "playbook bucket"),
    ],
    ids=["true-as-int", "huge-int", "huge-float", "empty-kubernetes-version", "empty-exporter", "empty-plugin", "long-cluster"],
)
def test_values_the_spec_used_to_accept_or_crash_on(tmp_path, field, value, expected):
    config = stack_config("dev")
    _set(config, field, value)
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(_document(config))
    with pytest.raises(SpecError) as error:
        load_stack_file(path)
    assert expected in error.value.render()


def test_render_refuses_a_file_or_a_non_empty_directory_unless_clean(gpufleet, tmp_path):
    config = write_stack_file(tmp_path / "Pulumi.dev.yaml", stack_config("dev"))
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    result = gpufleet("render", "--config", str(config), "--out", str(a_file))
    assert result.returncode == 2 and "not a directory" in result.stderr and "Traceback" not in result.stderr
    stale = tmp_path / "out" / "user-data" / "other-stack-pool.mime"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    result = gpufleet("render", "--config", str(config), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "--clean" in result.stderr and stale.exists()
    result = gpufleet("render", "--config", str(config), "--out", str(tmp_path / "out"), "--clean")
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and (tmp_path / "out" / "user-data" / "dev-a10g.mime").exists()


def test_a_control_character_is_a_one_line_error(tmp_path):
    """PyYAML's reader error for a special character spans two lines (`in "<unicode string>", position N`)."""
    path = tmp_path / "Pulumi.ctl.yaml"
    path.write_bytes(b"config:\n  gpu-fleet:cluster: {mode: existing, name: a\x11b}\n")
    with pytest.raises(SpecError) as error:
        load_stack_file(path)
    assert "\n" not in str(error.value) and "special characters are not allowed" in str(error.value)
