# SPDX-License-Identifier: MIT
"""The Python blocks of README.md's "Python" section run as written, so
the documentation cannot drift from the code."""
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..",
                                    ".."))


def blocks():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_has_python_blocks():
    assert len(blocks()) >= 2


@pytest.mark.parametrize("i", range(2))
def test_readme_block_runs(i, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the scenario path is relative to the root
    exec(compile(blocks()[i], "README.md python block %d" % i, "exec"), {})
    assert capsys.readouterr().out  # each block prints what it shows
