"""What a built sdist and wheel must hold (scripts/check-dist builds them, then runs this).

Issue 12 found a wheel and an sdist without a LICENSE, without ``py.typed``, with no
project URLs and a long description PyPI cannot show. This opens the two archives and
checks, against the source tree, that nothing the app needs at run time is missing:

- wheel: every file of the ``sessions_panel`` package (code, migrations, templates,
  static files, ``py.typed``, ``locale/**/*.mo`` for each ``.po``), the LICENSE under
  ``.dist-info/licenses/``, nothing outside the package; metadata: the version from
  ``sessions_panel/__init__.py``, ``License-Expression: MIT``, the project URLs,
  ``Typing :: Typed``, no ``whitenoise`` requirement, a Markdown description whose
  images and links are absolute URLs;
- sdist: LICENSE, the readme, README.md, CHANGELOG.md, pyproject.toml and the package.

    python scripts/check_dist.py DIST_DIR   # exit 1 and one line per problem
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "sessions_panel"
PROJECT_URLS = ("Homepage", "Repository", "Issues", "Changelog")
# Packages the demo host and the tests use, never the app itself.
NOT_RUNTIME = ("whitenoise", "gunicorn", "pytest", "playwright")
SDIST_FILES = ("LICENSE", "README.md", "CHANGELOG.md", "docs/pypi.md", "pyproject.toml")
# Markdown images and links: ![alt](url) and [text](url).
_MD_TARGET = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)")


def source_version() -> str:
    tree = ast.parse((ROOT / PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise SystemExit(f"check_dist: no __version__ = '...' in {PACKAGE}/__init__.py")


def _tree_files() -> list[Path]:
    # What hatchling puts in the wheel: the package's files that git does not ignore.
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", PACKAGE],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split("\0")
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        return [p for p in (ROOT / PACKAGE).rglob("*") if "__pycache__" not in p.parts]
    return [ROOT / name for name in listed if name]


def package_files() -> set[str]:
    """The package's files in the source tree, as wheel paths (.po optional)."""
    files = set()
    for path in _tree_files():
        if path.is_file() and path.suffix not in (".pyc", ".po"):
            files.add(path.relative_to(ROOT).as_posix())
    # A catalogue is shipped compiled: each .po needs its .mo next to it.
    for po in (ROOT / PACKAGE).rglob("*.po"):
        files.add(po.with_suffix(".mo").relative_to(ROOT).as_posix())
    return files


def _metadata(text: str) -> Message:
    return HeaderParser().parsestr(text)


def check_description(metadata: Message) -> list[str]:
    problems = []
    if metadata.get("Description-Content-Type", "").split(";")[0] != "text/markdown":
        problems.append("wheel METADATA: the description is not text/markdown")
    description = metadata.get_payload()
    if not isinstance(description, str) or not description.strip():
        return [*problems, "wheel METADATA: no long description"]
    for target in _MD_TARGET.findall(description):
        if not target.startswith(("https://", "#")):
            problems.append(f"long description: {target!r} is not an absolute https URL")
    for command in ("pip install", "migrate", "collectstatic", "backfill"):
        if command not in description:
            problems.append(f"long description: no {command!r} in the install steps")
    if "make " in description:
        problems.append("long description: mentions make, which only works in the repository")
    return problems


def check_wheel(wheel: Path, version: str) -> list[str]:
    problems = []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = f"django_sessions_panel-{version}.dist-info"
        if f"{dist_info}/METADATA" not in names:
            return [f"{wheel.name}: no {dist_info}/METADATA (version {version}?)"]
        metadata = _metadata(archive.read(f"{dist_info}/METADATA").decode())
    for name in sorted(package_files() - names):
        problems.append(f"{wheel.name}: missing {name}")
    for name in sorted(names):
        top = PurePosixPath(name).parts[0]
        if top not in (PACKAGE, dist_info):
            problems.append(f"{wheel.name}: {name} is outside the package")
    if f"{dist_info}/licenses/LICENSE" not in names:
        problems.append(f"{wheel.name}: no {dist_info}/licenses/LICENSE")
    if f"{PACKAGE}/py.typed" not in names:
        problems.append(f"{wheel.name}: no {PACKAGE}/py.typed")
    if metadata["Version"] != version:
        problems.append(f"wheel METADATA: Version {metadata['Version']}, source says {version}")
    if metadata["License-Expression"] != "MIT":
        problems.append(f"wheel METADATA: License-Expression {metadata['License-Expression']}")
    if "LICENSE" not in (metadata.get_all("License-File") or []):
        problems.append("wheel METADATA: no License-File: LICENSE")
    urls = {u.split(",")[0].strip() for u in metadata.get_all("Project-URL") or []}
    problems += [f"wheel METADATA: no Project-URL {u}" for u in PROJECT_URLS if u not in urls]
    if "Typing :: Typed" not in (metadata.get_all("Classifier") or []):
        problems.append("wheel METADATA: no Typing :: Typed classifier")
    for requirement in metadata.get_all("Requires-Dist") or []:
        name = re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower()
        if name in NOT_RUNTIME and "extra ==" not in requirement:
            problems.append(f"wheel METADATA: runtime requirement {requirement!r}")
    return problems + check_description(metadata)


def check_sdist(sdist: Path, version: str) -> list[str]:
    base = f"django_sessions_panel-{version}"
    with tarfile.open(sdist) as archive:
        names = {PurePosixPath(m.name) for m in archive.getmembers() if m.isfile()}
    if any(name.parts[0] != base for name in names):
        return [f"{sdist.name}: not everything is under {base}/"]
    inside = {name.relative_to(base).as_posix() for name in names}
    expected = {*SDIST_FILES, "PKG-INFO", f"{PACKAGE}/py.typed", f"{PACKAGE}/__init__.py"}
    problems = [f"{sdist.name}: missing {name}" for name in sorted(expected - inside)]
    # The package, what builds it and what describes it; hatchling adds .gitignore.
    allowed = {*expected, ".gitignore"}
    for name in sorted(inside):
        if name not in allowed and not name.startswith(f"{PACKAGE}/"):
            problems.append(f"{sdist.name}: {name} is not part of the release")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("dist_dir", type=Path)
    args = parser.parse_args(argv)
    version = source_version()
    wheels = sorted(args.dist_dir.glob("*.whl"))
    sdists = sorted(args.dist_dir.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"check_dist: want one wheel and one sdist in {args.dist_dir}", file=sys.stderr)
        return 1
    problems = check_wheel(wheels[0], version) + check_sdist(sdists[0], version)
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if problems:
        return 1
    with zipfile.ZipFile(wheels[0]) as archive:
        count = len(archive.namelist())
    print(f"check_dist: {wheels[0].name} ({count} files) and {sdists[0].name}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
