"""Installs do not drift: the hashed locks in requirements/ cover every dependency that the
pyprojects declare, within its range; the images' locks agree with the dev lock and carry one
onnxruntime flavour each at the same version; the venv holds exactly the locked versions;
the Dockerfile installs from the locks with hashes required."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.clips import REPO

LOCKS = REPO / "requirements"
ORT = ("onnxruntime", "onnxruntime-gpu")


def read_lock(path: Path) -> dict[str, str]:
    """name → pinned version for this interpreter (a forked entry counts where its marker
    holds); every entry must carry at least one sha256."""
    pins: dict[str, str] = {}
    entry: list[str] = []
    lines = path.read_text().splitlines()
    for line in [*lines, ""]:
        if line.startswith(("#", "    #")) or not line.strip():
            continue
        if not line.startswith(" ") and entry:
            _add(pins, entry)
            entry = []
        entry.append(line.strip().removesuffix("\\").strip())
    if entry:
        _add(pins, entry)
    return pins


def _add(pins: dict[str, str], entry: list[str]) -> None:
    req = Requirement(entry[0])
    assert any(part.startswith("--hash=sha256:") for part in entry[1:]), f"no hash: {entry[0]}"
    (spec,) = req.specifier
    assert spec.operator == "==", entry[0]
    if req.marker is None or req.marker.evaluate():
        pins[canonicalize_name(req.name)] = spec.version


def project(path: Path) -> dict[str, list[str]]:
    """ "" → the dependencies, then each extra's; self-references (`kneecave[…]`) left out."""
    meta = tomllib.loads(path.read_text())["project"]
    groups = {"": meta.get("dependencies", []), **meta.get("optional-dependencies", {})}
    return {
        name: [r for r in reqs if canonicalize_name(Requirement(r).name) != meta["name"]]
        for name, reqs in groups.items()
    }


SERVICE = project(REPO / "pyproject.toml")
SDK = project(REPO / "sdk" / "python" / "pyproject.toml")


def declared(*groups: Iterable[str]) -> list[Requirement]:
    reqs = [Requirement(r) for group in groups for r in group]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


DEV_GROUPS = [SERVICE[g] for g in ("", "cpu", "redis", "models", "dev")]
CASES = {
    "dev.txt": declared(*DEV_GROUPS, SDK[""], SDK.get("dev", [])),
    "cpu.txt": declared(SERVICE[""], SERVICE["cpu"], SERVICE["redis"]),
    "gpu.txt": declared(SERVICE[""], SERVICE["gpu"], SERVICE["redis"]),
    "models.txt": declared(SERVICE["models"]),
}


@pytest.mark.parametrize("lock", sorted(CASES))
def test_every_declared_dependency_is_locked_within_its_range(lock: str) -> None:
    pins = read_lock(LOCKS / lock)
    for req in CASES[lock]:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is not in requirements/{lock}: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements/{lock} pins {name}=={pins[name]}, outside {req}: run `make lock`"
        )


@pytest.mark.parametrize("lock", ["cpu.txt", "gpu.txt", "models.txt"])
def test_image_locks_use_the_dev_locks_versions(lock: str) -> None:
    dev, image = read_lock(LOCKS / "dev.txt"), read_lock(LOCKS / lock)
    differ = {
        name: (version, dev.get(name))
        for name, version in image.items()
        if name != "onnxruntime-gpu" and dev.get(name) != version
    }
    assert not differ, f"requirements/{lock} vs dev.txt: {differ}"


def test_one_onnxruntime_flavour_per_lock_at_one_version() -> None:
    cpu, gpu, dev = (read_lock(LOCKS / f"{n}.txt") for n in ("cpu", "gpu", "dev"))
    assert "onnxruntime-gpu" not in cpu
    assert "onnxruntime-gpu" not in dev
    assert "onnxruntime" not in gpu  # the GPU wheel brings the module itself
    assert cpu["onnxruntime"] == gpu["onnxruntime-gpu"] == dev["onnxruntime"]
    # The flavours are extras, not a base dependency, so [gpu] cannot add a second one.
    assert not any(Requirement(r).name in ORT for r in SERVICE[""])
    chosen = {
        Requirement(line).name: str(Requirement(line).specifier)
        for line in (LOCKS / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert chosen["onnxruntime"] == chosen["onnxruntime-gpu"] == f"=={cpu['onnxruntime']}"


def test_the_venv_holds_the_locked_versions() -> None:
    wrong = {}
    for name, version in read_lock(LOCKS / "dev.txt").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (installed, version)
    assert not wrong, f"installed vs locked (run `make setup`): {wrong}"


def test_dockerfile_installs_from_the_locks_with_hashes() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    installs = [
        " ".join(m.split())
        for m in re.findall(r"pip install (.*?)(?:&&|\n(?!\s))", dockerfile, re.S)
    ]
    for lock in ("cpu.txt", "gpu.txt", "models.txt"):
        assert any(f"-r requirements/{lock}" in i and "--require-hashes" in i for i in installs), (
            lock,
            installs,
        )
    # The package itself goes in on top without resolving anything.
    package = [i for i in installs if i.rstrip("\\ ").endswith(".")]
    assert package
    assert all("--no-deps" in i for i in package), package
