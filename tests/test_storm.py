"""An event storm through real processes: 10,000 signed `error.created` for 5 issues.

The same run as `python -m bench.storm`, faster: every delivery acknowledged and recorded, one
analysis and one comment per issue, a handful of Sentry calls for the whole storm. How fast the
acknowledgements were is printed here and measured by `bench/storm`, never asserted: a test that
passes only on a quiet machine is broken.
"""

from __future__ import annotations

import pytest

from bench.storm import STORM_ISSUES, report, run_storm
from tests.conftest import SECRET

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(180)
def test_storm_of_ten_thousand_costs_a_few_sentry_calls() -> None:
    result = run_storm(10_000, STORM_ISSUES, seconds=12.0, secret=SECRET)
    print(report(result))
    assert result.acked == 10_000
    assert result.recorded == 10_000
    assert result.coalesced == 10_000 - 5
    assert result.analyses <= 5
    assert result.comments <= 5 and all(n == 1 for n in result.comments_per_issue.values())
    assert result.sentry_calls <= 20
