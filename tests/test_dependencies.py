"""Every third-party import is declared in pyproject.toml, and the pins that code relies on hold.

The imports of kokoro_lab/, scripts/ and tests/ are read with `ast` (all of them, including the
ones inside functions), mapped to installed distributions with
importlib.metadata.packages_distributions(), and compared with the names in [project]
dependencies and optional-dependencies. The standard library, kokoro_lab itself and the
repository's own modules (tests/conftest.py, tests/reference_kokoro.py, ...) are skipped.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("kokoro_lab", "scripts", "tests")


def canonical(name: str) -> str:
    """PEP 503 name: "PyYAML" -> "pyyaml", "hydra_core" -> "hydra-core"."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """'lightning>=2.6,<2.7' -> 'lightning'; 'kokoro==0.9.4; extra == "x"' -> 'kokoro'."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return canonical(match.group(1))


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def declared() -> dict[str, str]:
    """Canonical distribution name -> where pyproject.toml declares it."""
    project = pyproject()
    out = {requirement_name(r): "dependencies" for r in project["dependencies"]}
    for extra, requirements in project.get("optional-dependencies", {}).items():
        for r in requirements:
            out.setdefault(requirement_name(r), f"extra {extra!r}")
    return out


def imports(path: Path) -> set[str]:
    """Absolute module names a file imports ("google.protobuf.message", "numpy", ...)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def local_modules() -> set[str]:
    """Top-level names the repository itself provides (kokoro_lab, and the .py files and
    packages of the scanned folders, which scripts and tests import by path)."""
    out = {"kokoro_lab"}
    for folder in SCANNED:
        for p in (ROOT / folder).iterdir():
            if p.suffix == ".py" or (p / "__init__.py").is_file():
                out.add(p.stem)
    return out


def distributions_of(module: str, index: dict[str, list[str]]) -> set[str]:
    """The installed distributions that provide `module`. A namespace package (`google`) is
    shared by several: keep those whose files hold the next level (`google/protobuf`)."""
    top, *rest = module.split(".")
    candidates = set(index.get(top, ()))
    if len(candidates) > 1 and rest:
        prefix = f"{top}/{rest[0]}"
        owners = {
            d
            for d in candidates
            if any(
                str(f).startswith(prefix + "/") or str(f) == prefix + ".py"
                for f in metadata.distribution(d).files or ()
            )
        }
        candidates = owners or candidates
    return {canonical(d) for d in candidates}


def third_party_imports() -> dict[str, set[str]]:
    """Module name -> the files (relative paths) that import it, third-party modules only."""
    local = local_modules()
    out: dict[str, set[str]] = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for module in imports(path):
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in local:
                    continue
                out.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return out


def test_every_third_party_import_is_declared():
    index = metadata.packages_distributions()
    names = declared()
    problems = []
    for module, files in sorted(third_party_imports().items()):
        where = ", ".join(sorted(files)[:3]) + (" ..." if len(files) > 3 else "")
        dists = distributions_of(module, index)
        if not dists:
            problems.append(f"{module} ({where}): no installed distribution provides it")
        elif not dists & names.keys():
            problems.append(
                f"{module} ({where}): distribution {' or '.join(sorted(dists))} is not in "
                "pyproject.toml's dependencies or optional-dependencies"
            )
    assert not problems, "undeclared imports:\n" + "\n".join(problems)


def test_the_scan_sees_known_imports():
    """The walk is not vacuous: imports made inside functions and modules known to be used are
    found, mapped, and the stdlib and local modules are not reported."""
    by_top: dict[str, set[str]] = {}
    for module, files in third_party_imports().items():
        by_top.setdefault(module.split(".")[0], set()).update(files)
    assert "kokoro_lab/data/dataset.py" in by_top["tqdm"]
    assert "kokoro_lab/voices.py" in by_top["yaml"]
    assert "kokoro_lab/metrics/text_norm.py" in by_top["whisper_normalizer"]  # inside a function
    assert not {"os", "json", "conftest", "reference_kokoro", "kokoro_lab"} & by_top.keys()
    index = metadata.packages_distributions()
    assert distributions_of("yaml", index) == {"pyyaml"}
    assert distributions_of("google.protobuf.message", index) == {"protobuf"}


@pytest.mark.parametrize(
    ("requirement", "name"),
    [
        ("lightning>=2.6,<2.7", "lightning"),
        ('kokoro==0.9.4; extra == "reference"', "kokoro"),
        ("huggingface_hub>=0.20", "huggingface-hub"),
        ("PyYAML", "pyyaml"),
    ],
)
def test_requirement_names(requirement, name):
    assert requirement_name(requirement) == name


def requirement(name: str) -> str:
    project = pyproject()
    every = [*project["dependencies"]]
    for requirements in project.get("optional-dependencies", {}).values():
        every += requirements
    matches = [r for r in every if requirement_name(r) == canonical(name)]
    assert len(matches) == 1, (name, matches)
    return matches[0]


def test_lightning_is_capped_at_the_installed_minor():
    """kokoro_lab uses Lightning internals (strategy.optimizer_step,
    fit_loop.epoch_loop.batch_progress): the range must be the installed major.minor only."""
    major, minor = (int(x) for x in metadata.version("lightning").split(".")[:2])
    assert (
        requirement("lightning").replace(" ", "")
        == f"lightning>={major}.{minor},<{major}.{minor + 1}"
    )


def test_pinned_versions_are_installed():
    """`==` pins (the normaliser's rules, the --no-deps metric and reference packages) are what
    this environment runs."""
    project = pyproject()
    every = [*project["dependencies"]]
    for requirements in project.get("optional-dependencies", {}).values():
        every += requirements
    wrong = []
    for r in every:
        spec = r.split(";")[0]
        if "==" not in spec:
            continue
        name, version = (s.strip() for s in spec.split("=="))
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed (scripts/setup.sh)")
            continue
        if installed != version:
            wrong.append(f"{name}: pinned {version}, installed {installed}")
    assert not wrong, wrong


def test_the_normaliser_pulls_no_whisper_runtime():
    """whisper-normalizer was chosen over openai-whisper because the latter requires torch,
    triton and numba: its own requirements must stay free of them."""
    requirements = {requirement_name(r) for r in metadata.requires("whisper-normalizer") or ()}
    assert not requirements & {"openai-whisper", "triton", "numba", "torch"}, requirements
