"""The floors of pyproject.toml's runtime dependencies, as exact pins (scripts/lowest-deps).

A floor is a promise: ``django-htmx>=1.21`` let pip install a django-htmx without
``{% htmx_script %}`` while ``pip check`` stayed clean (issue 12). ``scripts/lowest-deps``
installs exactly these pins and runs the tests, so every floor is one that was tested.

    python scripts/lowest_constraints.py [--pyproject PATH]          # print the pins
    python scripts/lowest_constraints.py [--pyproject PATH] --check  # installed == pins?

``--pin NAME==VERSION`` (repeatable) replaces one floor, to test the other floors with,
say, the newest Django: ``--pin django==6.1.3``.

Needs only the standard library (Python >= 3.11, for tomllib): it runs on the bare
interpreter before the virtualenv exists. Every runtime dependency must carry a floor
(``>=``, ``~=`` or ``==``); one without is an error, since its lowest version would be
whatever pip happens to find.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# PEP 508, as far as a dependency list in pyproject.toml needs: name, extras,
# comma-separated specifiers, an optional environment marker.
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?:\[(?P<extras>[^\]]*)\])?\s*"
    r"(?P<specifiers>[^;]*?)\s*"
    r"(?:;\s*(?P<marker>.+?))?\s*$"
)
_FLOOR_OPERATORS = (">=", "~=", "==")
_PLAIN_VERSION = re.compile(r"^\d+(?:\.\d+)*$")


class NoFloor(ValueError):
    """A runtime dependency whose lowest allowed version cannot be read off its specifiers."""


@dataclass(frozen=True)
class Floor:
    name: str
    version: str
    marker: str | None = None

    def constraint(self) -> str:
        pin = f"{self.name}=={self.version}"
        return f"{pin}; {self.marker}" if self.marker else pin


def normalize(name: str) -> str:
    """PEP 503: ``Django`` and ``django``, ``ua_parser`` and ``ua-parser`` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def floor_of(requirement: str) -> Floor:
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise NoFloor(f"cannot parse the requirement {requirement!r}")
    floors = []
    for specifier in filter(None, (s.strip() for s in match["specifiers"].split(","))):
        for operator in _FLOOR_OPERATORS:
            if specifier.startswith(operator):
                floors.append(specifier[len(operator) :].strip())
    if len(floors) != 1 or not _PLAIN_VERSION.match(floors[0]):
        raise NoFloor(
            f"{requirement!r}: a runtime dependency needs exactly one plain floor "
            f"(>=X.Y, ~=X.Y or ==X.Y), found {floors or 'none'}"
        )
    return Floor(normalize(match["name"]), floors[0], match["marker"])


def floors(pyproject: Path) -> list[Floor]:
    with pyproject.open("rb") as f:
        project = tomllib.load(f)["project"]
    return [floor_of(requirement) for requirement in project.get("dependencies", [])]


def pinned(pins: list[Floor], overrides: list[str]) -> list[Floor]:
    """``pins`` with the ``NAME==VERSION`` of each override in place of that floor."""
    by_name = {pin.name: pin for pin in pins}
    for override in overrides:
        name, sep, version = override.partition("==")
        name, version = normalize(name.strip()), version.strip()
        if not sep or not _PLAIN_VERSION.match(version):
            raise NoFloor(f"--pin {override!r}: expected NAME==VERSION, e.g. django==6.1.3")
        if name not in by_name:
            raise NoFloor(f"--pin {override!r}: {name} is not a runtime dependency")
        by_name[name] = Floor(name, version, by_name[name].marker)
    return list(by_name.values())


def _release(version: str) -> tuple[int, ...]:
    # "1.0" and "1.0.0" are the same release (PEP 440 zero padding).
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def mismatches(pins: list[Floor]) -> list[str]:
    """What is installed in the running interpreter that is not the pinned floor."""
    problems = []
    for pin in pins:
        try:
            installed = metadata.version(pin.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{pin.name}: not installed (wanted {pin.version})")
            continue
        if not _PLAIN_VERSION.match(installed) or _release(installed) != _release(pin.version):
            problems.append(f"{pin.name}: {installed} installed, the floor is {pin.version}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    parser.add_argument(
        "--check",
        action="store_true",
        help="check that this interpreter has exactly the floors installed",
    )
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="NAME==VERSION",
        help="use this version of a runtime dependency instead of its floor",
    )
    args = parser.parse_args(argv)
    try:
        pins = pinned(floors(args.pyproject), args.pin)
    except NoFloor as e:
        print(f"lowest_constraints: {e}", file=sys.stderr)
        return 2
    if not args.check:
        print("\n".join(pin.constraint() for pin in pins))
        return 0
    problems = mismatches(pins)
    for problem in problems:
        print(f"lowest_constraints: {problem}", file=sys.stderr)
    if not problems:
        print("floors installed: " + ", ".join(f"{p.name} {p.version}" for p in pins))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
