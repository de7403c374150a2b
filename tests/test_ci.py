"""CI runs exactly the test command README.rst gives."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.rst").read_text()
    section = readme.split("Testing\n-------", 1)[1]
    command = re.search(r"\.\. code:: sh\n\n    (.+)\n", section).group(1).strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines
