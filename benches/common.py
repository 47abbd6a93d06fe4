"""What the peer benchmarks share: the machine's state while they time (load, busy
processes, CPU seconds used by others, idle fraction, CPU model) and Lucent's image saving.
Imported by `lucent_peer.py`, `vit_peer.py` and `maco_classes.py` from this folder."""

import os
import platform
import subprocess
import time

import numpy as np
from PIL import Image


def cpu_info():
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {"nproc": int(nproc), "cpu": model, "platform": platform.platform()}


def loadavg():
    """The 1-minute load average: about the core count while one tool runs alone; more means
    something else shares the CPU and the times are not clean."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def busy_processes(me):
    """Other processes using more than 20% of a core right now (sampled with ps)."""
    out = subprocess.run(["ps", "-eo", "pid,pcpu,comm", "--no-headers"], capture_output=True, text=True).stdout
    busy = []
    for line in out.splitlines():
        pid, pcpu, comm = line.split(None, 2)
        if int(pid) != me and float(pcpu) > 20.0:
            busy.append(f"{comm} ({pcpu}%)")
    return busy


class CpuMeter:
    """CPU seconds spent over an interval by the whole machine and by this process and its
    (finished) children; `other_cpu_s` is what the rest of the machine used: near 0 when the
    benchmark had the CPU to itself."""

    def __init__(self):
        self.start = self._read()

    @staticmethod
    def _read():
        import resource

        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        ticks = os.sysconf("SC_CLK_TCK")
        busy = (sum(fields) - fields[3] - fields[4]) / ticks  # all but idle and iowait
        own = sum(
            getattr(resource.getrusage(who), a)
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
            for a in ("ru_utime", "ru_stime")
        )
        return busy, own

    def stop(self):
        busy, own = self._read()
        machine, mine = busy - self.start[0], own - self.start[1]
        return {"machine_cpu_s": round(machine, 1), "own_cpu_s": round(mine, 1),
                "other_cpu_s": round(max(0.0, machine - mine), 1), "load1_after": loadavg()}


def idle_fraction(seconds):
    """The machine's idle fraction (idle + iowait) over `seconds`, from /proc/stat."""
    def read():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]

    total0, idle0 = read()
    time.sleep(seconds)
    total1, idle1 = read()
    return (idle1 - idle0) / max(1, total1 - total0)


def save_lucent(array, path):
    # What Lucent's own render.export does: (x * 255).astype(uint8).
    Image.fromarray((array * 255).astype(np.uint8)).save(path)


def torch_device():
    """The device the peers compute on, and its name: Lucent puts its parameters on `cuda:0`
    whenever CUDA is available (`lucent.optvis.param.spatial`), so the models go there too."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda:0"), torch.cuda.get_device_name(0)
    return torch.device("cpu"), "cpu"
