"""A physlens command with glibc's own malloc settings against physlens's (``physlens.allocator``).

Runs the command twice in fresh processes, ``PHYSLENS_MALLOC=system`` first, and prints each one's wall,
user and system seconds and minor page faults (the process and its children). ``{tmp}`` in the command
becomes a new temporary folder for each run, removed after it; without a command, the 4×4 one below::

    .venv/bin/python bench/allocator.py -- physlens train --preset heisenberg-4x4 --steps 100 --out {tmp}/run
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

DEFAULT_COMMAND = ("physlens", "train", "--preset", "heisenberg-4x4", "--steps", "100", "--out", "{tmp}/run")


def measure(command: list[str], malloc: str | None) -> dict[str, float]:
    """Wall, user and system seconds and minor page faults of one run of ``command``."""
    env = dict(os.environ)
    env.pop("PHYSLENS_MALLOC", None)
    if malloc:
        env["PHYSLENS_MALLOC"] = malloc
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": wall, "user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime,
            "minor_faults": after.ru_minflt - before.ru_minflt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    command = command or list(DEFAULT_COMMAND)
    command[0] = shutil.which(command[0], path=os.path.dirname(sys.executable)) or command[0]
    for label, malloc in (("glibc's own settings", "system"), ("physlens.allocator", None)):
        with tempfile.TemporaryDirectory() as tmp:
            m = measure([part.replace("{tmp}", tmp) for part in command], malloc)
        print(f"{label:22s} {m['wall_s']:7.1f} s wall  {m['user_s']:7.1f} s user  {m['sys_s']:6.1f} s system  "
              f"{m['minor_faults']:>10,} minor faults")


if __name__ == "__main__":
    main()
