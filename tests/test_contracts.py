"""CrossHair checks the PEP 316 contracts of the pure core (``crosshair check`` in CI and ``tox -e crosshair``).
Here: the contracts hold on concrete examples too, and CrossHair demonstrably finds a planted bug."""

import subprocess
import sys
import textwrap

from rds import _format as fmt
from rds._ids import wrap_after
from rds._recovery import canonical_copy, judge_damage

PLANTED = textwrap.dedent(
    '''
    def wrap_after(last: int, minimum: int, maximum: int) -> int:
        """An ID generator step that forgets to wrap.

        pre: minimum <= last <= maximum
        post: minimum <= __return__ <= maximum
        """
        return last + 1
    '''
)


def test_crosshair_reports_a_counterexample_for_a_planted_bug(tmp_path):
    module = tmp_path / "planted.py"
    module.write_text(PLANTED)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "crosshair",
            "check",
            "--analysis_kind=PEP316",
            "--per_condition_timeout=20",
            str(module),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "false when calling wrap_after" in result.stdout, result.stdout + result.stderr


def test_the_contracts_hold_on_examples():
    assert [wrap_after(x, 1, 3) for x in (None, 0, 1, 2, 3, 4)] == [1, 1, 2, 3, 1, 1]
    assert canonical_copy([2, 5, 5, 1]) == 1 and canonical_copy([0]) == 0
    assert [judge_damage(x, 10) for x in (None, 7, 10, 11)] == ["torn", "repaired", "repaired", "beyond"]
    frame = fmt.encode_frame(7, b"payload")
    assert fmt.scan_frames(frame, 0, 7).frames == [fmt.Frame(7, 0, len(frame))]
    assert fmt.file_name("journal", 3, 1, True) == "journal.3.1.tmp"
