"""A context-parallel rank's side of a job: run what rank 0 runs, with the same spec, and drop the
result (rank 0 writes the files and reports the outcome). ``server.engine.group`` owns the rank
processes and their command channel; this is what a rank does with each command."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, assert_never

from server.engine.messages import GenerateOn, PreloadModel, RankCommand, Stop
from server.engine.runtime.generator import preload_model

if TYPE_CHECKING:
    from pipelines.generate import VideoGenerator

log = logging.getLogger(__name__)


def follow(gen: VideoGenerator, next_command: Callable[[], RankCommand]) -> None:
    """Run rank 0's commands until it says stop (``next_command`` raises when rank 0 is gone)."""
    while not isinstance(command := next_command(), Stop):
        run_command(gen, command)


def run_command(gen: VideoGenerator, command: PreloadModel | GenerateOn) -> None:
    try:
        match command:
            case PreloadModel(model=model):
                preload_model(gen, model)
            case GenerateOn(spec=spec):
                gen.generate(spec)  # the spec rank 0 decoded: resolved once, at the edge
            case _:
                assert_never(command)
    except Exception as exc:  # rank 0 reports the job's outcome; this rank only logs its own
        log.info("%s on this rank ended: %s: %s", type(command).__name__, type(exc).__name__, exc)
