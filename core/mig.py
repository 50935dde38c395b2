"""MIG geometry: the GPU instances each GPU of a pool is partitioned into, and whether they fit on it.

A geometry is a sorted tuple of profile names, one per GPU instance (the list `nvidia-smi mig -cgi` takes and
`nvidia-smi -L` prints back). A pool names it in one of two ways: `migProfile` (as many instances of one profile as
the GPU holds: the MIG manager's `all-<profile>` configurations) or, under the mixed strategy, `migProfiles` (an
explicit list, such as the MIG manager's `all-balanced` 2 x 1g + 1 x 2g + 1 x 3g).

Whether a list fits follows NVIDIA's MIG user guide, "Supported MIG Profiles" (docs.nvidia.com/datacenter/tesla/
mig-user-guide/supported-mig-profiles.html): A100, H100, H200 and B200 have 7 compute slices and 8 memory slices; a
profile takes its "fraction of memory" in eighths (1g.5gb on A100-40GB: 1/8, 1g.10gb: 2/8, 3g.20gb: 4/8, 7g.40gb:
full) and its Ng compute slices, and it may start only at the placements of the guide's figures: the first K
multiples of its memory size, K the instances of it one GPU holds (3g.20gb at slice 0 or 4, 2g.10gb at 0, 2 or 4,
1g.5gb at 0 to 6). A geometry fits when its instances can be placed without overlapping.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Optional, Sequence

from .facts import InstanceType

MEMORY_SLICES = 8
COMPUTE_SLICES = 7

PROFILE = re.compile(r"(?P<compute>\d+)g\.(?P<memory>\d+)gb")
# The node label naming the geometry (names.MIG_CONFIG_LABEL): all-<profile> for a uniform one, as the MIG
# manager's default configurations name it; custom-<count>x<profile>_... for an explicit list.
UNIFORM_PREFIX = "all-"
LIST_PREFIX = "custom-"
_LIST_ENTRY = re.compile(r"(?P<count>[1-7])x(?P<profile>\d+g\.\d+gb)")


def compute_slices(profile: str) -> int:
    match = PROFILE.fullmatch(profile)
    return int(match.group("compute")) if match else COMPUTE_SLICES + 1


def memory_slices(itype: InstanceType, profile: str) -> int:
    """The profile's eighths of the GPU's memory: its name carries its memory (3g.40gb: 40 GB of an 80 GB part)."""
    match = PROFILE.fullmatch(profile)
    if match is None or itype.gpu_memory_gib <= 0:
        return MEMORY_SLICES + 1
    return max(1, round(MEMORY_SLICES * int(match.group("memory")) / itype.gpu_memory_gib))


def placements(itype: InstanceType, profile: str) -> tuple[int, ...]:
    """The memory slices an instance of the profile may start at; () when the part has no such profile."""
    size = memory_slices(itype, profile)
    return tuple(k * size for k in range(itype.mig_instances(profile)) if k * size + size <= MEMORY_SLICES)


def fits(itype: InstanceType, geometry: Sequence[str]) -> bool:
    """Every instance placed at one of its placements, none overlapping, within the compute slices."""
    if not geometry or sum(compute_slices(p) for p in geometry) > COMPUTE_SLICES:
        return False
    # Largest first; at most 7 instances, so the search is tiny.
    todo = sorted(geometry, key=lambda p: -memory_slices(itype, p))

    def place(i: int, used: frozenset[int]) -> bool:
        if i == len(todo):
            return True
        size = memory_slices(itype, todo[i])
        for start in placements(itype, todo[i]):
            taken = frozenset(range(start, start + size))
            if not taken & used and place(i + 1, used | taken):
                return True
        return False

    return place(0, frozenset())


def uniform(itype: InstanceType, profile: str) -> tuple[str, ...]:
    """As many instances of the profile as one GPU of the type holds."""
    return (profile,) * itype.mig_instances(profile)


def pool_geometry(catalog: Sequence[InstanceType], profile: Optional[str], profiles: Iterable[str] = ()) -> tuple[str, ...]:
    """The geometry every GPU of a pool gets: the explicit list where it fits every instance type, else the
    uniform one of the profile that every type holds; () when neither applies (the policy pack says why)."""
    listed = tuple(sorted(profiles))
    if not catalog:
        return ()
    if listed:
        return listed if all(fits(t, listed) for t in catalog) else ()
    if profile is None:
        return ()
    return min((uniform(t, profile) for t in catalog), key=len)


def config_label(profile: Optional[str], profiles: Iterable[str] = ()) -> str:
    """The nvidia.com/mig.config value of a pool: all-<profile>, or custom-2x1g.10gb_1x2g.20gb_1x3g.40gb."""
    listed = sorted(profiles)
    if not listed:
        return f"{UNIFORM_PREFIX}{profile}"
    return LIST_PREFIX + "_".join(f"{n}x{p}" for p, n in sorted(Counter(listed).items()))


def parse_config_label(value: str) -> tuple[Optional[str], tuple[str, ...]]:
    """(profile, ()) for all-<profile>, (None, geometry) for custom-..., (None, ()) for anything else."""
    if value.startswith(UNIFORM_PREFIX) and PROFILE.fullmatch(value[len(UNIFORM_PREFIX):]):
        return value[len(UNIFORM_PREFIX):], ()
    if value.startswith(LIST_PREFIX):
        entries = [_LIST_ENTRY.fullmatch(e) for e in value[len(LIST_PREFIX):].split("_")]
        if entries and all(entries):
            return None, tuple(sorted(m.group("profile") for m in entries for _ in range(int(m.group("count")))))
    return None, ()
