"""Admission uses the same memory code as the workers: ``pipelines.core.memory`` (estimate per strategy,
planner). A job is refused at submission only when no strategy fits the largest worker."""

from __future__ import annotations

from pipelines.core.memory import GIB, MemoryPlan, MemoryStrategy, VramEstimate, plan_memory

__all__ = ["GIB", "MemoryPlan", "MemoryStrategy", "VramEstimate", "plan_memory"]
