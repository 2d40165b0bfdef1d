"""The mutation benchmark's list of equivalent mutants stays true to the code it names."""

import os

from bench.mutation import run


def test_every_equivalent_mutant_names_a_line_of_code_that_is_there():
    for entry in run.equivalent_list():
        with open(os.path.join(run.ROOT, entry["file"])) as handle:
            lines = [line.strip() for line in handle]
        assert entry["code"] in lines, f"{entry['file']}: no line reads {entry['code']!r} any more ({entry['why']})"
        assert lines[entry["line"] - 1] == entry["code"], f"{entry['file']}:{entry['line']} moved"


def _mutant(line, code, operator="ReplaceComparisonOperator_Eq_LtE"):
    diff = f"--- a/manual_grads/norms.py\n+++ b/manual_grads/norms.py\n@@\n-    {code}\n+    changed\n"
    return {"file": "manual_grads/norms.py", "line": line, "operator": operator, "occurrence": 9, "diff": diff}


def test_a_survivor_is_matched_by_its_code_wherever_the_line_has_moved():
    listed = run.equivalent_list()
    assert run.is_listed(_mutant(400, 'if mode == "test":'), listed)
    assert not run.is_listed(_mutant(44, "dxhat = dout * gamma[None, :]"), listed)
    assert not run.is_listed(_mutant(44, 'if mode == "test":', "ReplaceComparisonOperator_Eq_Gt"), listed)
