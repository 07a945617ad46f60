"""The demo's customers: people who are not members, each with their own key and data directory.

A customer runs no node.  As ``peoplenet customer import`` would, the demo keeps the
cooperative's profile -- made from what a member's running node says, as ``peoplenet coop
profile`` makes it -- in the customer's data directory; an app's command then runs through the
app's ``peoplenet_customer_command`` hook with a :class:`~.customer_session.CustomerSession`:
each request signed with the customer's key and handed to a member's node, each outcome
learned from members' receipts -- what ``peoplenet GROUP COMMAND --data THEIR_DIR COOP`` does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from peoplenet.actors.coop.profile_file import build_profile, write_profile
from peoplenet.actors.work.profile import CoopProfile
from peoplenet.plugins.api import AppCommandError
from peoplenet.plugins.command_args import convert_args
from peoplenet.plugins.customer_session import FOLDER, CustomerSession
from peoplenet.plugins.manager import AppRegistry
from peoplenet.runtime import log
from peoplenet.runtime.errors import DemoFailed, PeoplenetError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.sim.localnet import LocalNode, create_node
from peoplenet.runtime.wire.codec import Value


class DemoCustomers:
    """The demo's customers of one cooperative, made on first use in ``workdir/NAME``."""

    def __init__(self, workdir: Path, community: str, nodes: Mapping[str, LocalNode]) -> None:
        self._workdir = workdir
        self._community = community
        self._nodes = nodes
        self._made: dict[str, tuple[DataDir, Identity, CoopProfile]] = {}

    def make(self, name: str) -> str:
        """``name``'s id, hex: a fresh key and data directory with the cooperative's profile
        (as a member's phone describes it now) imported, on first use."""
        if name in self._nodes:
            raise DemoFailed(f"{name} is a member, not a customer")
        if name not in self._made:
            member = next(iter(self._nodes.values()))
            network = member.data.settings().network
            data, identity = create_node(self._workdir / name, network=network, mdns=False)
            profile = self._profile(member)
            folder = data.root / FOLDER
            folder.mkdir(exist_ok=True)
            write_profile(folder / f"{profile.community.hex()}.profile", profile)
            self._made[name] = (data, identity, profile)
        return bytes(self._made[name][1].member_id).hex()

    def _profile(self, member: LocalNode) -> CoopProfile:
        """The cooperative's profile as ``member``'s running node knows it (``coop profile``)."""
        shown = member.call("coop_show", {"community": self._community})
        status = member.call("status")
        peers = member.call("peers")
        listen = str(status.get("listen", ""))
        mine = (member.data.settings().advertise_host, int(listen.rsplit(":", 1)[1]))
        now_ms = int(time.time() * 1000)
        return build_profile(
            shown, peers if isinstance(peers, list) else [], member.member, mine, now_ms
        )

    def command(
        self, registry: AppRegistry, app: str, name: str, command: str, args: Mapping[str, Value]
    ) -> Value:
        """Run ``app``'s ``command`` as customer ``name``; :class:`DemoFailed` when refused."""
        if name not in self._made:
            raise DemoFailed(f"{name} is no customer of the demo (make them first)")
        data, identity, profile = self._made[name]
        log.configure(level=logging.WARNING)  # the customer's transport: a line per connection
        if not registry.implements(app, "peoplenet_customer_command"):
            raise DemoFailed(f"the {app} app serves no customers")
        declared = registry.specs[app].command(command)
        try:
            given = (
                dict(args) if declared is None else convert_args(declared, args, profile.member_ids)
            )
            session = CustomerSession(data, profile, identity, app)
            hook = registry.hook(app, "peoplenet_customer_command")
            result: Value = hook(command=command, args=given, customer=session)
        except (AppCommandError, PeoplenetError) as exc:
            raise DemoFailed(f"{command} on {name}'s phone (a customer): {exc}") from None
        return result


__all__ = ["DemoCustomers"]
