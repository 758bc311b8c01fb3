"""What pyproject.toml promises the people who install the package (issue 12, point 6).

Fast, no network, no build: the metadata as written, the long description, and the
checks ``scripts/check-dist`` runs on built archives (against fake ones here). The real
archives are built and checked by ``scripts/check-dist``; the dependency floors are
installed and tested by ``scripts/lowest-deps``.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import sessions_panel
from scripts import check_dist, lowest_constraints

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT: dict[str, Any] = PYPROJECT["project"]
RAW = "https://raw.githubusercontent.com/django-sessions-panel/django-sessions-panel/main/"


def runtime_requirements() -> list[Requirement]:
    return [Requirement(r) for r in PROJECT["dependencies"]]


def normalize(name: str) -> str:
    return lowest_constraints.normalize(name)


def group(name: str) -> set[str]:
    """The normalized project names a dependency group installs, includes expanded."""
    names: set[str] = set()
    for entry in PYPROJECT["dependency-groups"][name]:
        if isinstance(entry, dict):
            names |= group(entry["include-group"])
        else:
            names.add(normalize(Requirement(entry).name))
    return names


def classifiers(prefix: str) -> set[str]:
    return {c.removeprefix(prefix) for c in PROJECT["classifiers"] if c.startswith(prefix)}


# --- version -----------------------------------------------------------------------


def test_the_version_lives_in_one_place():
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "sessions_panel/__init__.py"
    assert Version(sessions_panel.__version__) >= Version("0.2.0")
    assert check_dist.source_version() == sessions_panel.__version__


# --- dependencies ------------------------------------------------------------------


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _guards_import_error(node: ast.Try) -> bool:
    names = []
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names += [k.id for k in kinds if isinstance(k, ast.Name)]
    return bool({"ImportError", "ModuleNotFoundError"} & set(names))


def _imports(node: ast.AST) -> Iterator[str]:
    """Top-level modules imported at run time: not under TYPE_CHECKING, not optional."""
    if isinstance(node, ast.If) and _is_type_checking(node):
        yield from (m for child in node.orelse for m in _imports(child))
        return
    if isinstance(node, ast.Try) and _guards_import_error(node):
        for child in [*node.handlers, *node.orelse, *node.finalbody]:
            yield from _imports(child)
        return
    if isinstance(node, ast.Import):
        yield from (alias.name.split(".")[0] for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        yield node.module.split(".")[0]
    for child in ast.iter_child_nodes(node):
        yield from _imports(child)


@cache
def third_party_imports() -> frozenset[str]:
    modules: set[str] = set()
    for path in (ROOT / "sessions_panel").rglob("*.py"):
        modules |= set(_imports(ast.parse(path.read_text(), str(path))))
    return frozenset(modules - set(sys.stdlib_module_names) - {"__future__", "sessions_panel"})


@cache
def _packages_distributions() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()  # reads every installed distribution


def distributions_of(module: str) -> set[str]:
    return {normalize(d) for d in _packages_distributions().get(module, [])}


def test_every_runtime_dependency_is_imported_by_the_app():
    imported = set().union(*(distributions_of(m) for m in third_party_imports()))
    for requirement in runtime_requirements():
        assert normalize(requirement.name) in imported, (
            f"{requirement.name} is a runtime dependency the app never imports"
        )


def test_everything_the_app_imports_is_a_runtime_dependency_or_comes_with_one():
    declared = {normalize(r.name) for r in runtime_requirements()}
    # What the declared dependencies themselves require (asgiref comes with Django).
    brought = {
        normalize(Requirement(r).name)
        for name in declared
        for r in metadata.requires(name) or []
        if "extra ==" not in r
    }
    for module in sorted(third_party_imports()):
        dists = distributions_of(module)
        assert dists & (declared | brought), f"the app imports {module} ({dists or '?'})"


def test_demo_only_packages_are_in_the_demo_group_not_the_runtime():
    runtime = {normalize(r.name) for r in runtime_requirements()}
    assert "whitenoise" not in runtime
    assert "whitenoise" in group("demo")
    # `make run` installs --group dev; the tests build on the demo's settings.
    assert group("demo") <= group("dev")
    assert group("demo") <= group("test")
    assert {"build", "twine"} <= group("release")


def test_every_runtime_dependency_has_a_floor_inside_its_range():
    pins = lowest_constraints.floors(ROOT / "pyproject.toml")
    assert [p.name for p in pins] == [normalize(r.name) for r in runtime_requirements()]
    for pin, requirement in zip(pins, runtime_requirements(), strict=True):
        assert Version(pin.version) in requirement.specifier, (pin, requirement)


def test_the_htmx_floor_has_the_script_tag_with_a_nonce():
    # {% htmx_script %}: 1.23; its CSP nonce: 1.25; htmx-2.min.js: 1.28.
    (htmx,) = [r for r in runtime_requirements() if normalize(r.name) == "django-htmx"]
    assert Version("1.27") not in htmx.specifier
    assert Version("1.28") in htmx.specifier


@pytest.mark.parametrize(
    ("requirement", "constraint"),
    [
        ("django>=5.2,<6.2", "django==5.2"),
        ("Django_HTMX >= 1.28", "django-htmx==1.28"),
        ("psycopg[binary]>=3.2", "psycopg==3.2"),
        ("ua-parser~=1.0", "ua-parser==1.0"),
        ("foo>=1.0; python_version < '3.12'", "foo==1.0; python_version < '3.12'"),
    ],
)
def test_lowest_constraints_reads_floors(requirement, constraint):
    assert lowest_constraints.floor_of(requirement).constraint() == constraint


@pytest.mark.parametrize("requirement", ["foo", "foo>1.0", "foo<2", "foo>=1.0,>=1.1", "foo>=1.*"])
def test_lowest_constraints_refuses_a_dependency_without_a_plain_floor(requirement):
    with pytest.raises(lowest_constraints.NoFloor):
        lowest_constraints.floor_of(requirement)


def test_lowest_constraints_pin_replaces_one_floor():
    pins = [lowest_constraints.Floor("django", "5.2"), lowest_constraints.Floor("x", "1")]
    pinned = lowest_constraints.pinned(pins, ["Django==6.1.3"])
    assert [p.constraint() for p in pinned] == ["django==6.1.3", "x==1"]
    with pytest.raises(lowest_constraints.NoFloor):
        lowest_constraints.pinned(pins, ["whitenoise==6.7"])


# --- classifiers, licence, URLs ----------------------------------------------------


def test_a_classifier_for_every_django_release_the_range_allows():
    (django,) = [r for r in runtime_requirements() if normalize(r.name) == "django"]
    # Django's feature releases: X.0, X.1, X.2 (LTS), then the next major.
    releases = {f"{major}.{minor}" for major in range(4, 10) for minor in range(3)}
    allowed = {r for r in releases if Version(r) in django.specifier}
    assert allowed == classifiers("Framework :: Django :: ")
    assert "Framework :: Django" in PROJECT["classifiers"]


def test_python_classifiers_start_at_requires_python():
    requires = SpecifierSet(PROJECT["requires-python"])
    versions = {v for v in classifiers("Programming Language :: Python :: ") if "." in v}
    assert versions and all(Version(v) in requires for v in versions)
    assert min(versions, key=Version) == PROJECT["requires-python"].removeprefix(">=")
    assert "Programming Language :: Python :: 3 :: Only" in PROJECT["classifiers"]


def test_typed_and_licensed():
    assert (ROOT / "sessions_panel" / "py.typed").is_file()
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 django-sessions-panel contributors" in text
    sdist = PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert {"/LICENSE", "/README.md", "/CHANGELOG.md", f"/{PROJECT['readme']}"} <= set(sdist)


def test_project_urls():
    urls = PROJECT["urls"]
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= set(urls)
    assert urls["Repository"] == "https://github.com/django-sessions-panel/django-sessions-panel"
    assert all(url.startswith(urls["Repository"]) for url in urls.values())


# --- the PyPI page -----------------------------------------------------------------


def pypi_description() -> str:
    readme: str = PROJECT["readme"]
    return (ROOT / readme).read_text()


def test_the_pypi_description_shows_on_pypi():
    text = pypi_description()
    assert PROJECT["readme"] != "README.md"  # it opens with repository-only make commands
    assert not check_dist.check_description(
        check_dist._metadata(f"Description-Content-Type: text/markdown\n\n{text}")
    )
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
    assert images
    for url in images:
        assert url.startswith(RAW), url
        assert (ROOT / url.removeprefix(RAW)).is_file(), f"{url}: no such file in the repo"


def test_the_pypi_install_steps_are_in_order():
    text = pypi_description()
    steps = ["pip install django-sessions-panel", "INSTALLED_APPS", "MIDDLEWARE"]
    steps += ["SESSION_ENGINE", "manage.py migrate", "manage.py collectstatic"]
    steps += ["manage.py backfill"]
    positions = [text.find(step) for step in steps]
    assert -1 not in positions, dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions)


def test_the_pypi_description_says_what_pyproject_says():
    text = pypi_description()
    (htmx,) = [r for r in runtime_requirements() if normalize(r.name) == "django-htmx"]
    floor = lowest_constraints.floor_of(str(htmx)).version
    assert f"django-htmx {floor}+" in text
    djangos = sorted(classifiers("Framework :: Django :: "), key=Version)
    assert f"Django {', '.join(djangos[:-1])} or {djangos[-1]}" in text
    assert f"Python {PROJECT['requires-python'].removeprefix('>=')}+" in text
    # The settings are the README's, word for word.
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        assert block in readme


# --- scripts/check_dist.py, on fake archives ---------------------------------------

VERSION = check_dist.source_version()
DIST_INFO = f"django_sessions_panel-{VERSION}.dist-info"
METADATA = f"""\
Metadata-Version: 2.4
Name: django-sessions-panel
Version: {VERSION}
License-Expression: MIT
License-File: LICENSE
Project-URL: Homepage, https://example.org/
Project-URL: Repository, https://example.org/
Project-URL: Issues, https://example.org/issues
Project-URL: Changelog, https://example.org/changes
Classifier: Typing :: Typed
Requires-Dist: django<6.2,>=5.2
Description-Content-Type: text/markdown

![Page]({RAW}docs/mobile.png)
pip install, migrate, collectstatic, backfill.
"""


def fake_wheel(
    tmp_path: Path, *, drop: str = "", metadata_text: str = METADATA, extra: str = ""
) -> Path:
    path = tmp_path / f"django_sessions_panel-{VERSION}-py3-none-any.whl"
    names = check_dist.package_files() | {f"{DIST_INFO}/licenses/LICENSE"}
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(names - {drop} | ({extra} - {""})):
            archive.writestr(name, "")
        archive.writestr(f"{DIST_INFO}/METADATA", metadata_text)
    return path


def fake_sdist(tmp_path: Path, names: set[str]) -> Path:
    path = tmp_path / f"django_sessions_panel-{VERSION}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name in sorted(names):
            info = tarfile.TarInfo(f"django_sessions_panel-{VERSION}/{name}")
            archive.addfile(info, io.BytesIO(b""))
    return path


SDIST = {
    *check_dist.SDIST_FILES,
    "PKG-INFO",
    ".gitignore",
    "sessions_panel/__init__.py",
    "sessions_panel/py.typed",
}


def test_check_dist_passes_complete_archives(tmp_path):
    assert check_dist.check_wheel(fake_wheel(tmp_path), VERSION) == []
    assert check_dist.check_sdist(fake_sdist(tmp_path, SDIST), VERSION) == []


@pytest.mark.parametrize(
    "drop",
    [
        f"{DIST_INFO}/licenses/LICENSE",
        "sessions_panel/py.typed",
        "sessions_panel/templates/sessions_panel/sessions.html",
        "sessions_panel/static/sessions_panel/sessions_panel.js",
        "sessions_panel/migrations/0001_initial.py",
    ],
)
def test_check_dist_finds_a_missing_file_in_the_wheel(tmp_path, drop):
    problems = check_dist.check_wheel(fake_wheel(tmp_path, drop=drop), VERSION)
    assert problems and all(drop in p for p in problems), problems


def test_check_dist_wants_a_compiled_catalogue_for_each_po(tmp_path):
    catalogues = sorted((ROOT / "sessions_panel").rglob("*.po"))
    if not catalogues:
        pytest.skip("no translations")
    mo = catalogues[0].with_suffix(".mo").relative_to(ROOT).as_posix()
    assert check_dist.check_wheel(fake_wheel(tmp_path, drop=mo), VERSION)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("License-Expression: MIT\n", ""),
        ("Project-URL: Issues, https://example.org/issues\n", ""),
        ("Classifier: Typing :: Typed\n", ""),
        ("Requires-Dist: django", "Requires-Dist: whitenoise>=6.7\nRequires-Dist: django"),
        (f"{RAW}docs/mobile.png", "docs/mobile.png"),
        ("collectstatic", "make run"),
    ],
)
def test_check_dist_finds_bad_metadata(tmp_path, before, after):
    assert before in METADATA
    wheel = fake_wheel(tmp_path, metadata_text=METADATA.replace(before, after))
    assert check_dist.check_wheel(wheel, VERSION)


def test_check_dist_finds_strays(tmp_path):
    assert check_dist.check_wheel(fake_wheel(tmp_path, extra="tests/__init__.py"), VERSION)
    assert check_dist.check_sdist(fake_sdist(tmp_path, SDIST - {"LICENSE"}), VERSION)
    stray = SDIST | {"tests/django_suite/README.md"}
    assert check_dist.check_sdist(fake_sdist(tmp_path, stray), VERSION)
