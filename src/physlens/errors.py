"""The one exception type physlens raises for bad input.

Every message is a single line that names what is wrong and what is allowed;
the CLI prints it and exits with code 2.
"""


class PhyslensError(ValueError):
    """Bad input to physlens: an unknown name, an invalid value, a broken run."""


def check_choice(kind: str, value: str, allowed: "list[str] | tuple[str, ...]") -> None:
    """Raise ``PhyslensError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise PhyslensError(f"unknown {kind} {value!r}; allowed: {', '.join(allowed)}")
