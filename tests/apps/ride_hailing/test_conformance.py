"""The ride-hailing app passes the conformance kit, like every bundled app (beside the
currency, whose coins its escrow holds)."""

from __future__ import annotations

from peoplenet.apps.currency import plugin as currency
from peoplenet.apps.ride_hailing.conformance import conformance_case
from peoplenet.plugins.testing import check_app


def test_ride_hailing_conforms() -> None:
    check_app(conformance_case(currency))
