"""What the benchmark scripts share: the machine line and one way to print a figure.

Every figure line reads ``name: value (goal: ..., met|MISSED)``, or ``name: value (reference)``
for a figure that has no goal, so `make bench | grep MISSED` lists what falls short.
"""
from __future__ import annotations

import os
import platform
from typing import Dict, List, Optional

MET, MISSED = "met", "MISSED"


class Figures:
    """Figure lines, printed as they come and kept for the summary at the end."""

    def __init__(self) -> None:
        self.lines: List[str] = []

    def add(self, name: str, value: str, goal: Optional[str] = None, met: Optional[bool] = None) -> str:
        if goal is None:
            line = "%s: %s (reference)" % (name, value)
        else:
            line = "%s: %s (goal: %s, %s)" % (name, value, goal, MET if met else MISSED)
        self.lines.append(line)
        print(line, flush=True)
        return line

    def missed(self) -> List[str]:
        return [line for line in self.lines if line.endswith(", %s)" % MISSED)]

    def summary(self) -> None:
        print()
        print("== figures (%d, %d missed)" % (len(self.lines), len(self.missed())))
        for line in self.lines:
            print(line)


def machine() -> Dict[str, str]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "python": platform.python_version(), "cpu": cpu,
            "load": " ".join("%.2f" % x for x in os.getloadavg())}


def machine_line() -> str:
    info = machine()
    return "machine: %s cores, Python %s, %s (load average before: %s)" % (
        info["nproc"], info["python"], info["cpu"], info["load"])
