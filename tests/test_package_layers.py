"""The package's layers go one way: a module imports drivenet modules of its own layer or lower ones only."""

from __future__ import annotations

import ast
from pathlib import Path

from support import REPO

# lowest first; a module may import from its own layer and those before it (README, "The plan")
LAYERS = (
    "errors", "io", "config", "nn", "geometry", "data", "model", "export", "donkey", "roads", "teach", "viz",
    "training", "drive", "sweep", "demo", "commands", "cli",
)  # fmt: skip
PACKAGE = REPO / "drivenet"


def layer_of(module: str) -> str | None:
    """`drivenet.data.cache` -> data; None for a module outside drivenet or the package itself."""
    parts = module.split(".")
    return parts[1] if parts[0] == "drivenet" and len(parts) > 1 else None


def module_name(path: Path) -> str:
    return "drivenet." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def upward_imports(module: str, source: str) -> list[str]:
    """The imports in `source` (the text of `module`) that reach a higher layer than the module's own."""
    own = layer_of(module)
    if own not in LAYERS:
        return []
    found = []
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            other = layer_of(name)
            if other in LAYERS and LAYERS.index(other) > LAYERS.index(own):
                found.append(f"{module} imports {name}")
    return found


def test_every_package_is_in_a_layer() -> None:
    tops = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
    assert tops - {"__init__", "__main__"} == set(LAYERS)


def test_no_module_imports_a_higher_layer() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert [
        hit for p in modules for hit in upward_imports(module_name(p), p.read_text(encoding="utf-8"))
    ] == []


def test_the_check_sees_an_upward_import() -> None:
    """The check above can fail: a data module that imports training (even inside a function) is caught."""
    source = "def f():\n    from drivenet.training.trainer import train_run\n"
    assert upward_imports("drivenet.data.probe", source) == [
        "drivenet.data.probe imports drivenet.training.trainer"
    ]
    assert upward_imports("drivenet.training.probe", source) == []
