"""Device planning for the local engine: pure functions, no processes, no torch."""

from __future__ import annotations

import pytest

from server.engine.devices import DevicePlan, cpu_threads_per_worker, group_devices, plan_devices, visible_gpus

SMI = (
    "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-11111111-2222-3333-4444-555555555555)\n"
    "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-66666666-7777-8888-9999-000000000000)\n"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0,2", ["0", "2"]), (" 3 ", ["3"]), ("", []), ("-1", []), ("1,-1,2", ["1"]),
     ("GPU-abc,GPU-def", ["GPU-abc", "GPU-def"])],
)
def test_visible_gpus_follows_cuda_visible_devices(value: str, expected: list[str]) -> None:
    # The env wins over nvidia-smi, the way CUDA itself reads it.
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": value}, smi_output=SMI) == expected


def test_visible_gpus_counts_nvidia_smi_lines() -> None:
    assert visible_gpus({}, smi_output=SMI) == ["0", "1"]
    assert visible_gpus({}, smi_output="") == []


def test_auto_plan_is_one_worker_per_gpu_or_one_cpu_worker() -> None:
    assert plan_devices(None, []) == [DevicePlan("cpu", "cpu", "")]
    assert plan_devices(None, ["4", "6"]) == [DevicePlan("cuda:0", "cuda", "4"), DevicePlan("cuda:1", "cuda", "6")]


def test_explicit_devices_map_through_the_visible_list() -> None:
    assert plan_devices(["cuda:1", "cpu", "cuda"], ["4", "6"]) == [
        DevicePlan("cuda:1", "cuda", "6"), DevicePlan("cpu", "cpu", ""), DevicePlan("cuda:0", "cuda", "4"),
    ]
    # No GPU listed (nvidia-smi missing): the operator's index is used as is.
    assert plan_devices(["cuda:2"], []) == [DevicePlan("cuda:2", "cuda", "2")]


@pytest.mark.parametrize("devices", [["cuda:2"], ["tpu"], ["cuda:x"], []])
def test_bad_devices_are_refused_by_name(devices: list[str]) -> None:
    with pytest.raises(ValueError, match="devices"):
        plan_devices(devices, ["0", "1"])


def test_cpu_workers_share_the_cores() -> None:
    cpu = DevicePlan("cpu", "cpu", "")
    gpu = DevicePlan("cuda:0", "cuda", "0")
    assert cpu_threads_per_worker([cpu], cpu_count=8) is None
    assert cpu_threads_per_worker([cpu, cpu], cpu_count=8) == 4
    assert cpu_threads_per_worker([cpu, cpu, cpu], cpu_count=2) == 1
    assert cpu_threads_per_worker([gpu, gpu], cpu_count=8) is None


def test_context_parallel_groups_consecutive_gpus_into_one_worker() -> None:
    plans = group_devices(plan_devices(None, ["0", "1", "GPU-a", "GPU-b"]), 2)
    assert plans == [DevicePlan("cuda:0+1", "cuda", "0,1", 2), DevicePlan("cuda:2+3", "cuda", "GPU-a,GPU-b", 2)]
    assert group_devices(plan_devices(None, ["0", "1"]), 1) == plan_devices(None, ["0", "1"])
    # A CPU worker runs its ranks on the CPU; cores are split between ranks.
    (cpu,) = group_devices(plan_devices(None, []), 2)
    assert (cpu.label, cpu.ranks, cpu.cuda_visible_devices) == ("cpu x2", 2, "")
    assert cpu_threads_per_worker([cpu], cpu_count=8) == 4


def test_context_parallel_refuses_gpus_it_cannot_group_evenly() -> None:
    with pytest.raises(ValueError, match="context_parallel=2 but 3 GPU"):
        group_devices(plan_devices(None, ["0", "1", "2"]), 2)
