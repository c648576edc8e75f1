"""The exceptions physlens raises for what a user can fix, and the exit codes the CLI gives them.

Every message is a single line that names what is wrong and what is allowed. The CLI
prints it and exits with the error's ``exit_code``:

- 2 (``PhyslensError``): bad input — an unknown name, an invalid value, a broken run, a
  folder that holds something else, a failed run handed to an analysis;
- 3 (``EnvironmentProblem``, and any ``OSError``): the environment — a folder in use by
  another physlens process, a read-only or full disk, a permission denied;
- 4 (``RunFailed``): the command ran but its run failed (NaN or diverged energies, a
  collapsed state); the run's status says why.
"""

EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_RUN_FAILED = 4


class PhyslensError(ValueError):
    """Bad input to physlens: an unknown name, an invalid value, a broken run."""

    exit_code = EXIT_BAD_INPUT


class EnvironmentProblem(PhyslensError):
    """The input is fine but the environment is not: a lock held by another process, no space, no permission."""

    exit_code = EXIT_ENVIRONMENT


class RunFailed(PhyslensError):
    """A training command ended with its run ``failed``; the run's status message says why."""

    exit_code = EXIT_RUN_FAILED


def check_choice(kind: str, value: str, allowed: "list[str] | tuple[str, ...]") -> None:
    """Raise ``PhyslensError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise PhyslensError(f"unknown {kind} {value!r}; allowed: {', '.join(allowed)}")
