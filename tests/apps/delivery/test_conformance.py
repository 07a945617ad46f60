"""The delivery app passes the conformance kit, like every bundled app (beside the currency,
whose coins settle a courier's cash debt)."""

from __future__ import annotations

from peoplenet.apps.currency import plugin as currency
from peoplenet.apps.delivery.conformance import conformance_case
from peoplenet.plugins.testing import check_app


def test_delivery_conforms() -> None:
    check_app(conformance_case(currency))
