"""The audio decode of an audio-video pipeline (audio VAE, then vocoder, inside its ``__call__``) as
a stage of its own: reported when it starts and timed until the vocoder returns, so progress shows
``audio_decoding`` and the timings split ``decode_s`` (video VAE) from ``audio_decode_s``.

diffusers has no callback there, so the audio VAE's ``decode`` is wrapped on the instance for the
length of one call (and always restored); the vocoder's end is a forward hook. Pipelines without
an ``audio_vae`` and a ``vocoder`` are left untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any


class AudioDecodeStage:
    def __init__(self, pipe: Any, on_start: Callable[[], None], clock: Callable[[], float]) -> None:
        self._vae: Any = getattr(pipe, "audio_vae", None)
        self._vocoder: Any = getattr(pipe, "vocoder", None)
        self._on_start = on_start
        self._clock = clock
        self._hook: Any = None
        self.started: float | None = None
        self.ended: float | None = None

    @property
    def active(self) -> bool:
        return self._vae is not None and self._vocoder is not None

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    def __enter__(self) -> AudioDecodeStage:
        if not self.active:
            return self
        vae = self._vae
        original = vae.decode

        def decode(*args: Any, **kwargs: Any) -> Any:
            if self.started is None:
                self.started = self._clock()
                self._on_start()
            return original(*args, **kwargs)

        vae.decode = decode  # an instance attribute shadows the class's method for this call only

        def ended(module: Any, args: Any, output: Any) -> None:
            self.ended = self._clock()

        self._hook = self._vocoder.register_forward_hook(ended)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.active:
            return
        self._vae.__dict__.pop("decode", None)
        if self._hook is not None:
            self._hook.remove()
