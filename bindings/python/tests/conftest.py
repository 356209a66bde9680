# SPDX-License-Identifier: MIT
"""Shared setup of the crdt pytest suite.

Run by bindings/python/check.sh (make check) against the fresh build, or
by hand with PYTHONPATH pointing at a built or installed crdt package.
Environment:
    CRDT_SEED          seeds Hypothesis and every random choice (printed;
                       the same seed reproduces a run)
    CRDT_HYP_EXAMPLES  Hypothesis examples per property (default 400)
    CRDT_CLI           the crdt command-line tool, for the interop tests
    CRDT_PY_ASAN       set under AddressSanitizer: skips the RSS check
Nothing is written to the source tree: no Hypothesis database, no cache.
"""
import os
import random

import hypothesis
import pytest

SEED = int(os.environ.get("CRDT_SEED") or random.SystemRandom().getrandbits(32))
EXAMPLES = int(os.environ.get("CRDT_HYP_EXAMPLES") or 400)

hypothesis.settings.register_profile(
    "crdt", database=None, max_examples=EXAMPLES, deadline=None,
    derandomize=False, print_blob=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow,
                           hypothesis.HealthCheck.data_too_large])
hypothesis.settings.load_profile("crdt")


def pytest_configure(config):
    # Hypothesis draws from this seed unless --hypothesis-seed is given.
    if not config.getoption("hypothesis_seed", None):
        config.option.hypothesis_seed = SEED


def pytest_report_header(config):
    return ("crdt: seed %d (CRDT_SEED=%d reproduces), %d examples per "
            "property" % (SEED, SEED, EXAMPLES))


def pytest_terminal_summary(terminalreporter):
    st = terminalreporter.stats
    passed = len(st.get("passed", []))
    failed = len(st.get("failed", [])) + len(st.get("error", []))
    terminalreporter.write_line(
        "python: %d passed, %d failed (seed %d)" % (passed, failed, SEED))


@pytest.fixture
def rng(request):
    """A random.Random seeded from the run's seed and the test's name."""
    return random.Random("%d/%s" % (SEED, request.node.nodeid))
