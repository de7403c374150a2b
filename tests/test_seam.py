"""Every file-system call in rds/ goes through rds/_fs.py, the one OS seam the simulator replaces."""

import ast
import pathlib

import rds

PACKAGE = pathlib.Path(rds.__file__).parent
SEAM = "_fs.py"
FORBIDDEN_MODULES = {"os", "io", "fcntl", "shutil", "pathlib", "tempfile", "mmap", "msvcrt", "posix", "glob"}
FORBIDDEN_CALLS = {"open", "__import__", "exec", "eval"}


def violations(source: str, filename: str) -> list:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{filename}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if node.module and node.module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{filename}:{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            found.append(f"{filename}:{node.lineno}: {node.func.id}()")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in {"open", "read_bytes", "write_bytes", "unlink"}
            and isinstance(node.value, ast.Name)
            and node.value.id in FORBIDDEN_MODULES | {"builtins"}
        ):
            found.append(f"{filename}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_only_the_seam_touches_the_file_system():
    problems = []
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) >= 8, "the scan must see the whole package"
    for path in modules:
        if path.name == SEAM and path.parent == PACKAGE:
            continue
        problems += violations(path.read_text(), str(path.relative_to(PACKAGE)))
    assert problems == []


def test_the_scan_catches_direct_file_access():
    # The checker itself must be able to fail.
    bad = "import os\nfrom io import open as o\nopen('x')\nimport builtins\nbuiltins.open('y')\n"
    assert len(violations(bad, "bad.py")) == 4


def test_the_seam_looks_os_functions_up_at_call_time():
    # Binding os.write into the class at import time would escape pyfakefs's patching.
    tree = ast.parse((PACKAGE / SEAM).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.Assign) and isinstance(item.value, ast.Attribute):
                    assert not (isinstance(item.value.value, ast.Name) and item.value.value.id == "os"), item.lineno
