"""``make demo``'s second half: five real node processes, social layer then a cooperative."""

from __future__ import annotations

import io

import pytest

from peoplenet import main as composer


@pytest.mark.processes
def test_node_demo_founds_a_cooperative_admits_sets_a_rate_pays_and_rides() -> None:
    out = io.StringIO()
    assert composer.demo(out) == 0, out.getvalue()
    text = out.getvalue()
    assert "erin   joined as observer (not a member yet)" in text
    assert "#1 admission: adopted, outcome true" in text
    assert "consensus moved to epoch 1 with erin as a participant, on every phone" in text
    assert '#2 rate: adopted, outcome "9/2", support 1' in text
    assert "members 5, commission 4.5%, epoch 1" in text
    assert "2 epochs, 2 decisions recomputed: matches" in text
    # the currency app, enabled by vote: payments, a credit line, a redemption, cooperative coins
    assert "#3 app: adopted, outcome true" in text
    assert "carol holds 10 alice-coins and bob keeps 20" in text
    assert "carol holds 50 dave-coins and dave holds 50 carol-coins" in text
    assert "repaid: carol holds 60 dave-coins and no alice-coins" in text
    assert "alice holds 40 cooperative coins and erin 60" in text
    assert "carol  members' coins: 60 dave; cooperative coins: 0" in text
    # ride-hailing, enabled by vote: a customer rides; one driver declines, the other drives
    assert "#4 app: adopted, outcome true" in text
    assert "offers: bob: declined, carol: accepted" in text
    assert "frank's phone: assigned to carol" in text
    assert "carol's phone opened the exact pickup frank's phone sealed to her" in text
    assert "completed and paid (cash), on every member's phone" in text
    assert "both scores shown: frank gave 5, carol gave 4" in text
    assert "the ride is the same on all 5 phones" in text
    assert "processes left behind: 0" in text
    assert text.rstrip().endswith("demo finished")
