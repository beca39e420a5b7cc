"""The model families vidserve serves, one package each, and the registry over them.

A family package owns what is specific to it (see ``pipelines/README.md``, "Adding a family"):
its catalog entries, text encoding and pipeline call per mode, what it returns, its tiny models,
its published architectures. Adding one is its package, its tests and one line in ``ADAPTERS``.
Torch-free at import.
"""

from __future__ import annotations

from pipelines.core.catalog import Catalog, ModelEntry
from pipelines.core.errors import InvalidSpec
from pipelines.core.memory import MemoryPlan, plan_memory
from pipelines.core.spec import ResolvedSpec
from pipelines.families.base import FamilyAdapter
from pipelines.families.hunyuan_video15 import HunyuanVideo15Family
from pipelines.families.ltx2 import Ltx2Family
from pipelines.families.ltx_video import LtxVideoFamily
from pipelines.families.skyreels_v2 import SkyReelsV2Family
from pipelines.families.wan import WanFamily
from pipelines.families.wan_vace import WanVaceFamily

# The registration: one line per family.
ADAPTERS: tuple[FamilyAdapter, ...] = (
    WanFamily(),
    LtxVideoFamily(),
    Ltx2Family(),
    WanVaceFamily(),
    SkyReelsV2Family(),
    HunyuanVideo15Family(),
)

_BY_FAMILY: dict[str, FamilyAdapter] = {name: a for a in ADAPTERS for name in a.families}


def adapter_for(entry: ModelEntry) -> FamilyAdapter:
    try:
        return _BY_FAMILY[entry.family]
    except KeyError:
        raise KeyError(f"{entry.id}: no registered family serves {entry.family!r}; "
                       f"families: {', '.join(_BY_FAMILY)}") from None


def default_catalog() -> Catalog:
    """Every registered family's entries: the real models first, then the tiny ones (so a listing,
    and the demo's "first present real model", meet real models first), each in ``ADAPTERS`` order."""
    entries = [e for tiny in (False, True) for a in ADAPTERS for e in a.entries() if e.tiny is tiny]
    for e in entries:
        adapter_for(e).check_entry(e)  # an entry whose family nobody serves, or breaks its rules, fails at start
    return Catalog(entries)


def plan_job_memory(entry: ModelEntry, rs: ResolvedSpec, budget_bytes: int | None, ranks: int = 1) -> MemoryPlan:
    """The planner for one job, over its whole sequence (the family's ``sequence_tokens``: conditions
    such as VACE's reference images add latent frames); the API's admission and the worker use this."""
    return plan_memory(entry, rs.width, rs.height, rs.num_frames, budget_bytes, ranks=ranks,
                       final=rs.quality == "final", tokens=adapter_for(entry).sequence_tokens(entry, rs))


def check_sequence_split(entry: ModelEntry, rs: ResolvedSpec, ranks: int) -> None:
    """Context parallelism splits the video sequence evenly across a worker's GPUs (diffusers'
    Ulysses and ring attention need equal shards): refuse, naming the values, a size whose token
    count (the family's ``sequence_tokens``) does not divide by ``ranks``. The API checks at
    submission (400), every rank again before it runs anything."""
    if ranks <= 1:
        return
    tokens = adapter_for(entry).sequence_tokens(entry, rs)
    if tokens % ranks:
        raise InvalidSpec("size", f"{rs.width}x{rs.height}x{rs.num_frames}",
                          f"{tokens} video tokens do not split evenly across this server's {ranks} GPUs per job "
                          f"(context parallelism); pick a width, height or frame count that gives a multiple of "
                          f"{ranks}")
