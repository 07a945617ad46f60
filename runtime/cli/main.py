"""The ``peoplenet`` command: the outermost shell, so it may import every layer (lazily)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence

from peoplenet.runtime import log
from peoplenet.runtime.cli import options as cli_options
from peoplenet.runtime.cli.exit import REFUSED, UNUSABLE, ActionRefused, refusal, report
from peoplenet.runtime.errors import LocalError, PeoplenetError
from peoplenet.runtime.keys.secret_env import take_env_secret
from peoplenet.runtime.local.control import ControlError
from peoplenet.runtime.local.file_modes import private_umask

PASSPHRASE_ENV = "PEOPLENET_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
DATA_ENV = cli_options.DATA_ENV
MEMBER_HELP = "a member: full id, fingerprint, unique prefix (8+ characters) or petname"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peoplenet", description="Platform cooperatives on their members' phones."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="five real nodes on loopback: discovery, friends, posts, crash and catch-up"
    )
    demo.add_argument(
        "--simulated",
        action="store_true",
        help="the in-process simulated network demo instead (blocks, sync, partitions)",
    )

    ident = sub.add_parser("identity", help="create or inspect a member key file")
    ident_sub = ident.add_subparsers(dest="action", required=True)
    create = ident_sub.add_parser("create", help="create a new key pair in an encrypted file")
    create.add_argument("path")
    create.add_argument("--force", action="store_true", help="replace an existing file")
    show = ident_sub.add_parser("show", help="print the member id of a key file")
    show.add_argument("path")
    show.add_argument("--unlock", action="store_true", help="also check the passphrase")

    _node_commands(sub)

    bench = sub.add_parser("bench", help="benchmarks that print JSON with a ratio to a ceiling")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    ingest = bench_sub.add_parser("ingest", help="decode, verify, store and index blocks")
    ingest.add_argument("--blocks", type=int, default=20_000)
    ingest.add_argument(
        "--workers", type=int, default=2, help="verification processes (0: verify inline)"
    )
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    transport = bench_sub.add_parser(
        "transport", help="blocks streamed between two nodes vs thespian TCP messages"
    )
    transport.add_argument("--seconds", type=float, default=5.0)
    transport.add_argument("--json", action="store_true", help="print one JSON object")
    consensus = bench_sub.add_parser(
        "consensus", help="finalized transactions/s and CPU per block vs signature checks"
    )
    consensus.add_argument("--nodes", type=int, default=4)
    consensus.add_argument("--seconds", type=float, default=None, help="time budget")
    consensus.add_argument("--seed", type=int, default=0)
    consensus.add_argument("--json", action="store_true", help="print one JSON object")

    payments = bench_sub.add_parser(
        "payments", help="Flash payments (issue, approve, accept) vs their signature checks"
    )
    payments.add_argument("--payments", type=int, default=200)
    payments.add_argument("--json", action="store_true", help="print one JSON object")

    sim = sub.add_parser("sim", help="deterministic simulations of the protocols")
    sim_sub = sim.add_subparsers(dest="sim", required=True)
    sim_consensus = sim_sub.add_parser(
        "consensus", help="a community of simulated members, some faulty, over many seeds"
    )
    sim_consensus.add_argument("--nodes", type=int, default=4)
    sim_consensus.add_argument("--faulty", type=int, default=0)
    sim_consensus.add_argument(
        "--fault", choices=["none", "crash", "silent", "equivocate", "delay"], default="none"
    )
    sim_consensus.add_argument("--seeds", type=int, default=10, help="how many seeds")
    sim_consensus.add_argument("--first-seed", type=int, default=0)
    sim_consensus.add_argument("--txs-per-node", type=int, default=3)
    sim_consensus.add_argument("--json", action="store_true", help="print one JSON object")
    cli_options.share_options(parser)
    return parser


def _data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default=cli_options.data_default(),
        help=f"the node's data directory (default ${DATA_ENV} or ~/.peoplenet)",
    )


def _node_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # noqa: PLR0915
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
    from peoplenet.actors.coop import cli as coop_cli  # noqa: PLC0415 - the cooperative's commands

    coop_cli.add_parser(sub)
    coop_cli.add_audit_parser(sub)
    from peoplenet.plugins import cli as apps_cli  # noqa: PLC0415 - apps and their commands

    apps_cli.add_parsers(sub)
    decide = sub.add_parser(
        "decide", help="compute a decision from a JSON file (members and auditors, no node needed)"
    )
    decide.add_argument("file", metavar="FILE.json")
    decide.add_argument("--json", action="store_true", help="print the outcome as JSON")


def _community_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


_from_env: list[str] = []
"""The passphrase taken from $PEOPLENET_PASSPHRASE by :func:`_take_passphrase` (if it was set)."""


def _take_passphrase() -> None:
    """Move $PEOPLENET_PASSPHRASE out of the environment, before any process is started.

    Why at once: every process the command starts (a node's actors, app workers) would
    otherwise inherit it, the network actor that parses hostile input among them.
    """
    value = take_env_secret(PASSPHRASE_ENV)
    _from_env[:] = [] if value is None else [value]


def _passphrase(prompt: str, *, confirm: bool = False) -> str:
    """From $PEOPLENET_PASSPHRASE (scripts; taken at start-up) or the terminal (people)."""
    if _from_env:
        return _from_env[0]
    try:
        first = getpass.getpass(prompt)
        again = getpass.getpass("again: ") if confirm else first
    except EOFError:
        raise LocalError(f"no passphrase: run in a terminal or set ${PASSPHRASE_ENV}") from None
    if again != first:
        raise LocalError("the two passphrases differ")
    return first


def _identity(args: argparse.Namespace) -> int:
    from peoplenet.runtime.keys.identity import Identity, fingerprint  # noqa: PLC0415 - keep start-up fast
    from peoplenet.runtime.keys.keyfile import load_identity, read_member_id, save_identity  # noqa: PLC0415

    if args.action == "create":
        identity = Identity.generate()
        save_identity(
            args.path,
            identity,
            _passphrase("new passphrase: ", confirm=True),
            overwrite=args.force,
        )
        print(f"member id {identity.member_id.hex()}\nfingerprint {identity.fingerprint}")
        return 0
    mid = read_member_id(args.path)
    if args.unlock:
        load_identity(args.path, _passphrase("passphrase: "))
    print(f"member id {mid.hex()}\nfingerprint {fingerprint(mid)}")
    return 0


def _sim(args: argparse.Namespace) -> int:
    from peoplenet.runtime.sim.consensus import SimConfig, run_many  # noqa: PLC0415

    if args.seeds < 1:
        raise LocalError("--seeds must be positive")
    config = SimConfig(
        nodes=args.nodes, faulty=args.faulty, fault=args.fault, txs_per_node=args.txs_per_node
    )
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    summary, results = run_many(config, seeds)
    if args.json:
        print(json.dumps(summary.as_json()))
    else:
        for key, value in summary.as_json().items():
            print(f"{key:>26}: {value}")
        for result in results:
            for problem in result.safety_violations:
                print(f"seed {result.seed}: {problem}")
    return 0 if summary.safety_violations == 0 else 1


def _bench(args: argparse.Namespace) -> int:
    from peoplenet.bench import ingest  # noqa: PLC0415 - benchmarks load only when asked for

    if args.bench == "consensus":
        from peoplenet.bench import consensus  # noqa: PLC0415

        if args.nodes < 1:
            raise LocalError("--nodes must be positive")
        figures = consensus.run(args.nodes, seconds=args.seconds, seed=args.seed)
        if args.json:
            print(json.dumps(figures))
        else:
            for key, value in figures.items():
                print(f"{key:>30}: {value}")
        return 0
    if args.bench == "payments":
        from peoplenet.bench import payments  # noqa: PLC0415

        if args.payments < 1:
            raise LocalError("--payments must be positive")
        figures = payments.run(args.payments)
        if args.json:
            print(json.dumps(figures))
        else:
            for key, value in figures.items():
                print(f"{key:>32}: {value}")
        return 0
    if args.bench == "transport":
        from peoplenet.bench import transport  # noqa: PLC0415

        if args.seconds <= 0:
            raise LocalError("--seconds must be positive")
        figures = transport.run(args.seconds)
        if args.json:
            print(json.dumps(figures))
        else:
            for key, value in figures.items():
                print(f"{key:>18}: {value}")
        return 0
    if args.blocks < 1 or args.workers < 0:
        raise LocalError("--blocks must be positive and --workers at least 0")
    result = ingest.run(args.blocks, workers=args.workers)
    if args.json:
        print(json.dumps(result.as_json()))
    else:
        for key, value in result.as_json().items():
            print(f"{key:>18}: {value}")
    return 0


def _know_every_record() -> None:
    """Register the upper layers' record types before anything decodes or starts a node.

    A node's actor processes are forked from this one: a process that never imported a
    record's module would refuse blocks carrying it that every other node accepts.
    """
    import peoplenet.actors.records  # noqa: F401, PLC0415 - the outermost shell may import every layer


def _show_petnames(args: argparse.Namespace) -> None:
    """Members in human output carry this node's petnames (a damaged file: shown without)."""
    data = getattr(args, "data", None)
    if not isinstance(data, str) or getattr(args, "json", False):
        return
    from pathlib import Path  # noqa: PLC0415 - keep start-up fast

    from peoplenet.runtime.cli import format as cli_format  # noqa: PLC0415
    from peoplenet.runtime.cli import petnames  # noqa: PLC0415

    root = Path(data).expanduser()
    if not petnames.petnames_path(root).is_file():
        return
    try:
        cli_format.use_petnames(petnames.load(root))
    except petnames.PetnameFileError:
        return


def main(argv: Sequence[str] | None = None) -> int:
    _take_passphrase()
    private_umask()  # before anything is created: every file 0600, every directory 0700
    args = cli_options.fill_defaults(_parser().parse_args(argv))
    log.configure()
    _know_every_record()
    _show_petnames(args)
    try:
        if args.command == "demo":
            if args.simulated:
                from peoplenet.runtime.sim import demo  # noqa: PLC0415

                return demo.main(sys.stdout)
            from peoplenet.actors.member import demo as node_demo  # noqa: PLC0415

            return node_demo.main(sys.stdout)
        if args.command == "identity":
            return _identity(args)
        if args.command == "bench":
            return _bench(args)
        if args.command == "sim":
            return _sim(args)
        if args.command == "coop":
            from peoplenet.actors.coop import cli as coop_cli  # noqa: PLC0415

            return coop_cli.run(args, _passphrase, sys.stdout)
        if args.command == "audit":
            from peoplenet.actors.coop import cli as coop_cli  # noqa: PLC0415

            return coop_cli.run_audit(args, sys.stdout)
        if args.command in ("apps", "app") or getattr(args, "top_level_app", None):
            from peoplenet.plugins import cli as apps_cli  # noqa: PLC0415

            return apps_cli.run(args, sys.stdout)
        if args.command == "decide":
            from peoplenet.actors.governance import decide_cli  # noqa: PLC0415

            return decide_cli.run(args.file, args.json)
        from peoplenet.actors.member import cli as cli_node  # noqa: PLC0415

        return cli_node.run(args, _passphrase)
    except ActionRefused as exc:
        report(exc, args.json, sys.stderr)
        return REFUSED
    except ControlError as exc:
        refused = refusal(exc)
        report(exc if refused is None else refused, args.json, sys.stderr)
        return UNUSABLE if refused is None else REFUSED
    except PeoplenetError as exc:  # a key file, a bad argument, no node running...
        report(exc, args.json, sys.stderr)
        return UNUSABLE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
