"""The sdist and the package index's page: built for real from the tracked files.

The sdist is built by setuptools' own PEP 517 hook (what ``python -m build --sdist``
calls) from a copy of the files git tracks, in a subprocess, without the network.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from email.message import Message

ROOT = Path(__file__).resolve().parent.parent
# Tracked files that the sdist leaves out, each with why.
NOT_SHIPPED = {
    ".gitignore": "the repository's, not the source's",
    ".ci/run": "the CI script of this repository",
}
# Files that every sdist carries besides the tracked ones.
GENERATED = re.compile(r"PKG-INFO|setup\.cfg|helpcrunch_async\.egg-info/.*")
LINK = re.compile(
    r"!?\[[^\]]*\]\((?P<target>[^)\s]+)[^)]*\)|<(?:a|img)\b[^>]*?(?:href|src)=\"(?P<html>[^\"]+)\""
)


def tracked_files() -> list[str]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the sdist is built from one")
    listing = subprocess.run(
        ["git", "ls-files", "-z"],  # noqa: S607 -- git from the PATH, fixed arguments
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return sorted(name.decode() for name in listing.stdout.split(b"\0") if name)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Message]:
    """Build the sdist from a copy of the tracked files; return its names and its PKG-INFO."""
    source = tmp_path_factory.mktemp("source")
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    build = (
        "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    )
    done = subprocess.run(  # noqa: S603 -- our interpreter, fixed arguments
        [sys.executable, "-c", build, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    archive = out / done.stdout.strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        members = [m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()]
        info = tar.extractfile(f"{archive.name.removesuffix('.tar.gz')}/PKG-INFO")
        assert info is not None
        metadata = HeaderParser().parsestr(info.read().decode())
    return sorted(members), metadata


def test_the_sdist_ships_every_tracked_file_and_nothing_else(
    sdist: tuple[list[str], Message],
) -> None:
    names, _ = sdist
    wanted = {name for name in tracked_files() if name not in NOT_SHIPPED}
    shipped = set(names)
    assert sorted(wanted - shipped) == []
    extra = [name for name in shipped - wanted if not GENERATED.fullmatch(name)]
    assert extra == []
    # The tests import these: shipping the tests without them would break them.
    for folder in ("tests/", "benchmarks/", "examples/"):
        assert any(name.startswith(folder) for name in names), folder


def test_the_metadata_says_where_and_for_which_pythons(sdist: tuple[list[str], Message]) -> None:
    _, metadata = sdist
    classifiers = metadata.get_all("Classifier") or []
    assert metadata["Requires-Python"] == ">=3.11"
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Typing :: Typed" in classifiers
    urls = metadata.get_all("Project-URL") or []
    assert urls
    assert all(url.split(", ", 1)[1].startswith("https://") for url in urls)


def github_slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_readme_links_work_on_the_package_index() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    anchors = {github_slug(h) for h in re.findall(r"^#+ (.+)$", prose, flags=re.MULTILINE)}
    targets = [m["target"] or m["html"] for m in LINK.finditer(prose)]
    assert targets
    for target in targets:
        if target.startswith("#"):
            assert target[1:] in anchors, f"README link {target} names no heading"
        else:
            # A relative link names a file of the repository, which the index does not serve.
            assert target.startswith("https://"), f"README link {target} is not absolute"
