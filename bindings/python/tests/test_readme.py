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


def test_readme_client_block_against_real_nodes(tmp_path, capsys):
    """The crdt.Client block, run against three real crdt-node processes
    (named a, b, c as in the README), with b killed first so that the
    level-all write shows the ConsistencyTimeout branch."""
    import random

    import test_cluster as tc

    binary = tc._node_binary()
    if not binary:
        pytest.skip("no crdt-node binary")
    client_blocks = [b for b in blocks() if "crdt.Client(" in b]
    assert len(client_blocks) == 1
    cl = tc.Cluster(binary, tmp_path)
    cl.names = ["a", "b", "c"]
    try:
        assert cl.boot(random.Random(int(os.environ.get("CRDT_SEED", "1"))))
        cl.kill("b")
        code = client_blocks[0]
        for name in "ac":
            code = code.replace('"%s/client.sock"' % name,
                                repr(cl.sock(name)))
        exec(compile(code, "README.md client block", "exec"), {})
    finally:
        cl.kill_all()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[b'apple']", out
    assert out[1].startswith("not met:") and "level all" in out[1], out
    assert out[2] == "[b'apple']", out
