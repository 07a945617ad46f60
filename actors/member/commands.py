"""The member's node commands as a command group: parsed here, run by :mod:`.cli`.

Light on purpose: every ``peoplenet`` command builds the whole parser, and only a node
command needs what running one loads (zeroconf among it).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from peoplenet.runtime.cli.group import Context, Subparsers
from peoplenet.runtime.cli.options import DATA_ENV, data_default

MEMBER_HELP = "a member: full id, fingerprint, unique prefix (8+ characters) or petname"
DecisionLines = Callable[..., list[str]]
"""How a cooperative's decision reads in ``peoplenet inbox`` (given from above: the coop's)."""


class NodeCommands:
    """The member's node commands: init, node, friends, post, feed, status, inbox, community.

    ``decision_lines`` shows the decisions ``peoplenet inbox`` lists (the cooperative layer's
    text, registered from above); without it a decision is one line of JSON.
    """

    def __init__(self, decision_lines: DecisionLines | None = None) -> None:
        self.decision_lines = decision_lines

    def add_parsers(self, sub: Subparsers) -> None:
        add_parsers(sub)

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        from peoplenet.actors.member import cli  # noqa: PLC0415 - loaded for node commands only

        return cli.run(args, ctx.passphrase, ctx.out, decision_lines=self.decision_lines)


def _data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default=data_default(),
        help=f"the node's data directory (default ${DATA_ENV} or ~/.peoplenet)",
    )


def add_parsers(sub: Subparsers) -> None:  # noqa: PLR0915
    """``init``, ``node``, ``friends``, ``post``, ``feed``, ``status``, ``inbox``, ``community``."""
    init = sub.add_parser("init", help="create a member identity and a node data directory")
    _data_arg(init)
    init.add_argument(
        "--network", default="peoplenet-dev", help="network name (default %(default)s)"
    )
    init.add_argument("--listen", default="0.0.0.0:7700", help="peer transport HOST:PORT")
    init.add_argument("--advertise", default="127.0.0.1", help="address friends should dial")
    init.add_argument("--peer", action="append", default=[], help="static peer HOST:PORT")
    init.add_argument("--no-mdns", action="store_true", help="do not use zeroconf")
    init.add_argument(
        "--mdns-interface", action="append", default=None, help="zeroconf interface address"
    )
    init.add_argument("--auto-accept", action="store_true", help="accept friend requests")

    node = sub.add_parser("node", help="run or stop this member's node")
    node_sub = node.add_subparsers(dest="action", required=True)
    start = node_sub.add_parser("start", help="run the node in the foreground (Ctrl-C stops it)")
    _data_arg(start)
    start.add_argument("--listen", default=None, help="override the listen HOST:PORT")
    start.add_argument("--advertise", default=None)
    start.add_argument("--peer", action="append", default=[], help="static peer HOST:PORT")
    start.add_argument("--no-mdns", action="store_true")
    stop = node_sub.add_parser("stop", help="ask the running node to stop")
    _data_arg(stop)

    friends = sub.add_parser("friends", help="friends, requests, follows and introductions")
    _data_arg(friends)
    friends.add_argument("--json", action="store_true")
    fsub = friends.add_subparsers(dest="action")
    fsub.add_parser("list", help="friends, pending requests and introductions (the default)")
    for name, text in (
        ("add", "ask MEMBER to be friends (or accept their request)"),
        ("accept", "accept MEMBER's friend request or introduction"),
        ("remove", "end the friendship with MEMBER"),
        ("follow", "receive MEMBER's posts through friends who follow them"),
        ("unfollow", "stop receiving MEMBER's posts"),
    ):
        one = fsub.add_parser(name, help=text)
        one.add_argument("member", help=MEMBER_HELP)
    intro = fsub.add_parser("introduce", help="introduce two of your friends to each other")
    intro.add_argument("a", metavar="MEMBER", help=MEMBER_HELP)
    intro.add_argument("b", metavar="MEMBER", help=MEMBER_HELP)
    intro.add_argument("--note", default="")
    fsub.add_parser("peers", help="members discovered on the network")
    petname = fsub.add_parser("name", help="give MEMBER a petname (kept on this node only)")
    petname.add_argument("member", help=MEMBER_HELP)
    petname.add_argument("petname", metavar="NAME")
    unname = fsub.add_parser("unname", help="forget a petname")
    unname.add_argument("petname", metavar="NAME")

    post = sub.add_parser("post", help="post to your feed")
    _data_arg(post)
    post.add_argument("text")
    post.add_argument(
        "--reply", default="", help="id of the post this replies to (or a unique prefix)"
    )
    post.add_argument(
        "--unsynced",
        action="store_true",
        help="sign even though no friend answered since the start (accepted 30 s after it; "
        "forks your lace if a friend holds newer posts of yours)",
    )
    post.add_argument("--json", action="store_true")

    feed = sub.add_parser("feed", help="posts of the members you follow")
    _data_arg(feed)
    feed.add_argument("--limit", type=int, default=50)
    feed.add_argument("--json", action="store_true")

    status = sub.add_parser("status", help="the node's identity, friends and lace")
    _data_arg(status)
    status.add_argument("--json", action="store_true")
    inbox = sub.add_parser(
        "inbox", help="what waits for you: friend requests, decisions to vote in, app requests"
    )
    _data_arg(inbox)
    inbox.add_argument("--json", action="store_true")
    _community_commands(sub)


def _community_commands(sub: Subparsers) -> None:
    community = sub.add_parser("community", help="communities: genesis, join, submit, order")
    csub = community.add_subparsers(dest="action", required=True)
    ccreate = csub.add_parser("create", help="write a community's genesis file (no node needed)")
    ccreate.add_argument("name", help="the community's name (1-64 bytes)")
    ccreate.add_argument(
        "--member",
        action="extend",
        nargs="+",
        required=True,
        metavar="MEMBER",
        help="a participant: full id or petname; with the node running, also a fingerprint or "
        "unique prefix (repeat or list several)",
    )
    _data_arg(ccreate)
    ccreate.add_argument(
        "--timeout-ms", type=int, default=1000, help="Δ, the leader timeout (default 1000)"
    )
    ccreate.add_argument("--out", required=True, help="the genesis file to write")
    ccreate.add_argument("--json", action="store_true")
    cjoin = csub.add_parser("join", help="run the community of a genesis file on this node")
    _data_arg(cjoin)
    cjoin.add_argument("file")
    cjoin.add_argument("--json", action="store_true")
    clist = csub.add_parser("list", help="the communities this node joined")
    _data_arg(clist)
    clist.add_argument("--json", action="store_true")
    csubmit = csub.add_parser("submit", help="submit a text transaction to a community")
    _data_arg(csubmit)
    csubmit.add_argument("name", help="community name or lace hex prefix")
    csubmit.add_argument("text")
    csubmit.add_argument("--json", action="store_true")
    corder = csub.add_parser("order", help="the transactions delivered so far, in order")
    _data_arg(corder)
    corder.add_argument("name")
    corder.add_argument("--json", action="store_true")
    cstatus = csub.add_parser("status", help="epoch, lace, participants and counts")
    _data_arg(cstatus)
    cstatus.add_argument("name")
    cstatus.add_argument("--json", action="store_true")


__all__ = ["MEMBER_HELP", "DecisionLines", "NodeCommands", "add_parsers"]
