"""What every process the engines start does first: the local worker, a context-parallel rank,
the Ray actor and the Ray bridge. One place, so they all run offline, log in one format and
leave stopping to their parent.

Torch-free: call ``setup_child`` before anything imports torch (CUDA reads
``CUDA_VISIBLE_DEVICES`` at its first initialisation).
"""

from __future__ import annotations

import logging
import os
import signal


class JobStamp(logging.Filter):
    """Stamps the running job's id on every log line of the process, including the pipelines'
    own lines (loading, generated ...), which know nothing of jobs."""

    job_id: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        record.job = f" job={self.job_id}" if self.job_id else ""
        return True


def setup_child(label: str, log_level: int, *, cuda_visible_devices: str | None = None,
                ignore_stop_signals: bool = False) -> JobStamp:
    """Set up this process for serving and return the filter that stamps its log lines with the job.

    ``label`` opens every log line (``worker-0``, ``worker-0 rank=1``, ``ray-bridge``), then the pid.
    ``cuda_visible_devices``: the GPUs this process may see (None keeps what its launcher set, as
    Ray does for an actor). ``ignore_stop_signals``: Ctrl-C, `timeout` and systemd's stop signal
    the whole process group (or cgroup) at once; a child that died of it would be restarted by a
    parent that is still shutting down, so the parent alone decides when it stops.
    """
    if cuda_visible_devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices
    # Serving never touches a model hub.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    if ignore_stop_signals:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=log_level,
        force=True,  # the child is ours: replace whatever the re-imported main module set up
        format=f"%(asctime)s %(levelname)s [{label} pid={os.getpid()}%(job)s] %(name)s: %(message)s",
    )
    from server.logging_setup import quiet_library_warnings

    quiet_library_warnings()
    stamp = JobStamp()
    for handler in logging.getLogger().handlers:
        handler.addFilter(stamp)
    return stamp
