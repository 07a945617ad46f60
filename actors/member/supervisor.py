"""The node's supervisor: starts the member, store and network actors and one consensus actor
per joined community, rewires them after restarts and routes control requests.

::

    NodeSupervisor ── member   holds the secret key; the only code that signs (signer.py)
                   ├─ store    blocklace + SQLite + social graph + dissemination (store_actor.py)
                   ├─ network  transport, zeroconf, static peers (network_actor.py)
                   └─ consensus-<lace>  one per joined community (actors/community/)
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from peoplenet.actors.community.consensus_actor import ConsensusActor, community_name
from peoplenet.actors.member.command_errors import (
    CommandError,
    InvalidGenesisFile,
    UnknownCommunity,
)
from peoplenet.actors.member.control_relay import NODE_RESTARTING, ChildFailed, Relay
from peoplenet.actors.member.lifecycle import AwaitReady, Ready, StopNetwork
from peoplenet.actors.member.messages import (
    ConsensusInit,
    ControlReply,
    ControlRequest,
    Forwarded,
    Listening,
    MemberInit,
    NetworkFailed,
    NetworkInit,
    NodeInit,
    StoreInit,
    Wiring,
    failure_reply,
)
from peoplenet.actors.member.network_actor import NetworkActor
from peoplenet.actors.member.signer import MemberActor
from peoplenet.actors.member.store_actor import StoreActor
from peoplenet.actors.member.store_check import check_genesis
from peoplenet.runtime.consensus.constitution import Genesis
from peoplenet.runtime.errors import PeoplenetError, RemoteProtocolError
from peoplenet.runtime.kernel import Actor, Ref, RestartPolicy
from peoplenet.runtime.kernel.proctree import why_not_running
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.net.noise_channel import static_private_key
from peoplenet.runtime.wire.codec import Value, decode_as

CHILD_POLICY = RestartPolicy(
    max_restarts=5,
    window_s=60.0,
    backoff_initial_s=0.2,
    backoff_max_s=5.0,
    heartbeat_s=None,
    heartbeat_timeout_s=10.0,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _CheckOwner:
    """Timer: is the foreground process still alive?"""


OWNER_CHECK_S = 0.5


class NodeSupervisor(Actor):
    """Starts the three node actors, rewires them after restarts, routes control requests."""

    def on_start(self, init: object) -> None:
        assert isinstance(init, NodeInit)
        self.init = init
        self.ready: Ready | NetworkFailed | None = None
        self.waiting: list[Ref] = []
        self.relay: Relay[Ref] = Relay()
        """Control requests passed to a child: answered at once if it dies holding them."""
        identity = Identity.from_seed(init.seed)
        member = bytes(identity.member_id)
        self.member = member
        x25519 = static_private_key(identity)  # the same derivation the transport uses
        del identity
        self.spawn(MemberActor, "member", MemberInit(seed=init.seed), policy=CHILD_POLICY)
        self.spawn(
            StoreActor,
            "store",
            StoreInit(data_dir=init.data_dir, member=member, auto_accept=init.auto_accept),
            policy=CHILD_POLICY,
        )
        self.spawn(
            NetworkActor,
            "network",
            NetworkInit(
                member=member,
                x25519_private=x25519,
                listen_host=init.listen_host,
                listen_port=init.listen_port,
                advertise_host=init.advertise_host,
                network_id=init.network_id,
                mdns=init.mdns,
                mdns_interfaces=init.mdns_interfaces,
                peers=init.peers,
            ),
            policy=CHILD_POLICY,
        )
        self.communities: dict[str, Genesis] = {}
        """Joined communities by consensus child name."""
        for path in DataDir(init.data_dir).genesis_files():
            check_genesis(path)  # a damaged file stops the node, named (not a restart loop)
            raw = path.read_bytes()
            self._spawn_community(decode_as(Genesis, raw), raw)
        self._rewire()
        if init.owner_pid:
            self.after(OWNER_CHECK_S, _CheckOwner())

    def _owner_alive(self) -> bool:
        try:
            os.kill(self.init.owner_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _rewire(self) -> None:
        wiring = Wiring(
            member=self.child("member"), store=self.child("store"), network=self.child("network")
        )
        for name in ("member", "store", "network", *self.communities):
            ref = self.child(name)
            if ref is not None:
                self.tell(ref, wiring)

    # -- communities ---------------------------------------------------------------------------

    def _spawn_community(self, genesis: Genesis, raw: bytes) -> str:
        name = f"consensus-{genesis.lace().hex()}"
        if name not in self.communities:
            self.communities[name] = genesis
            self.spawn(
                ConsensusActor,
                name,
                ConsensusInit(data_dir=self.init.data_dir, seed=self.init.seed, genesis=raw),
                policy=CHILD_POLICY,
            )
        return name

    def _community_control(self, req: ControlRequest, sender: Ref) -> None:
        try:
            if req.op == "community_join":
                self.tell(
                    sender, ControlReply(request=req.request, ok=True, result=self._join(req.args))
                )
            elif req.op == "community_list":
                listing = tuple(
                    {**_community_entry(g), "community": self._display_name(g)}
                    for g in self.communities.values()
                )
                self.tell(sender, ControlReply(request=req.request, ok=True, result=listing))
            else:
                name = self._community_child(req.args.get("community"), req.op)
                child = self.child(name)
                if child is None:
                    raise CommandError("the community is restarting; try again")
                self.tell(
                    child, Forwarded(msg=self.relay.pass_on(name, req, sender), reply_to=self.me)
                )
        except PeoplenetError as exc:
            self.tell(sender, failure_reply(req.request, exc))

    def _join(self, args: dict[str, Value]) -> Value:
        raw = args.get("genesis")
        if not isinstance(raw, bytes):
            raise InvalidGenesisFile("community_join needs the genesis file's bytes")
        try:
            genesis = decode_as(Genesis, raw)
        except RemoteProtocolError as exc:
            raise InvalidGenesisFile(f"not a community genesis: {exc}") from None
        if genesis.epoch != 0:
            raise InvalidGenesisFile("a community is joined from its first (epoch 0) genesis")
        data = DataDir(self.init.data_dir)
        lace_hex = genesis.lace().hex()
        for suffix in ("founding", "name"):
            extra = args.get(suffix)
            if isinstance(extra, str):
                extra = extra.encode()
            if isinstance(extra, bytes) and data.community_file(lace_hex, suffix) is None:
                data.save_community_file(lace_hex, suffix, extra)
        new = data.save_genesis(lace_hex, raw)
        self._spawn_community(genesis, raw)
        if new:
            self._rewire()
        entry = _community_entry(genesis)
        entry["community"] = self._display_name(genesis)
        entry["joined"] = new
        entry["participant"] = self.member in genesis.constitution.participants
        return entry

    def _display_name(self, genesis: Genesis) -> str:
        """A community's display name: a cooperative's comes from its founding (a sidecar)."""
        raw = DataDir(self.init.data_dir).community_file(genesis.lace().hex(), "name")
        return raw.decode("utf-8", errors="replace") if raw else community_name(genesis)

    def _community_child(self, text: Value, op: str = "") -> str:
        """The consensus child of a community given by name or by (a prefix of) its lace hex."""
        if not isinstance(text, str) or not text:
            raise UnknownCommunity("name a community")
        by_name = [n for n, g in self.communities.items() if self._display_name(g) == text]
        by_lace = [n for n, g in self.communities.items() if g.lace().hex().startswith(text)]
        matches = by_name or by_lace
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownCommunity(unknown_community_text(text, op, self._joined_names()))
        raise UnknownCommunity(f"{text!r} names {len(matches)} communities; give its lace hex")

    def _joined_names(self) -> list[str]:
        return sorted(self._display_name(g) for g in self.communities.values())

    def on_child_restarted(self, name: str, ref: Ref) -> None:
        self.log.warning("child_restarted", child=name)
        self._rewire()

    def on_child_failed(self, name: str, error_type: str, error: str) -> None:
        for asker, reply in self.relay.child_failed(name, f"{error_type}: {error}"):
            self.tell(asker, reply)

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, _CheckOwner):
            if self._owner_alive():
                self.after(OWNER_CHECK_S, _CheckOwner())
                return
            # Nobody is left to shut the actor system down: end every process of it at once.
            # SQLite (WAL, synchronous FULL) makes this as safe as a phone losing power.
            self.log.error("owner_gone", owner=self.init.owner_pid)
            os.killpg(os.getpgid(0), signal.SIGKILL)
        elif isinstance(msg, AwaitReady):
            if self.ready is None:
                self.waiting.append(sender)
            else:
                self.tell(sender, self.ready)
        elif isinstance(msg, Listening | NetworkFailed):
            if isinstance(msg, Listening):
                self.ready = Ready(
                    host=msg.host, port=msg.port, member=self.member, session=os.getsid(0)
                )
            else:
                self.ready = msg
            for ref in self.waiting:
                self.tell(ref, self.ready)
            self.waiting.clear()
        elif isinstance(msg, ControlRequest) and msg.op.startswith(("community_", "coop_")):
            self._community_control(msg, sender)
        elif isinstance(msg, ControlRequest):
            target = "network" if msg.op in NETWORK_OPS else "store"
            child = self.child(target)
            if child is None:
                why = self.relay.last_failure(target)
                text = "node restarting" + (f" (its {target} actor failed: {why})" if why else "")
                busy = ControlReply(
                    request=msg.request, ok=False, result=None, error=text, reason=NODE_RESTARTING
                )
                self.tell(sender, busy)
            elif (stuck := why_not_running(self.child_pid(target))) is not None:
                text = f"the node's {target} actor {stuck}: it cannot answer"
                stuck_reply = ControlReply(
                    request=msg.request, ok=False, result=None, error=text, reason=ChildFailed
                )
                self.tell(sender, stuck_reply)
            else:
                self.tell(
                    child, Forwarded(msg=self.relay.pass_on(target, msg, sender), reply_to=self.me)
                )
        elif isinstance(msg, ControlReply):  # a child's answer to a request passed on
            relayed = self.relay.answer(msg)
            if relayed is not None:
                self.tell(*relayed)
        elif isinstance(msg, StopNetwork):
            network = self.child("network")
            if network is not None:
                self.tell(network, Forwarded(msg=msg, reply_to=sender))
            else:
                self.reply(True)


def unknown_community_text(text: str, op: str, joined: list[str]) -> str:
    """Why ``text`` names no joined community, and the join command that fits the request."""
    if op.startswith("coop_"):
        how = "join a cooperative with `peoplenet coop join FILE.coop`"
        what = "cooperative"
    else:
        how = "join a community with `peoplenet community join FILE`"
        what = "community"
    known = f" (joined: {', '.join(joined)})" if joined else " (none joined yet)"
    return f"no joined {what} {text!r}{known}: {how}"


def _community_entry(genesis: Genesis) -> dict[str, Value]:
    c = genesis.constitution
    return {
        "community": community_name(genesis),
        "lace": genesis.lace().hex(),
        "participants": c.n,
        "quorum": c.quorum,
        "timeout_ms": c.timeout_ms,
    }


NETWORK_OPS = frozenset({"peers", "connections"})
