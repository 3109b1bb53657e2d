"""The ``mip6fast`` command."""
from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources

from . import __version__, plot, progress
from .benchmark import binding_cache, dataplane, datapath, forward, hashflood, journal, signalling, wire, workers
from .config import ROLES, ConfigError, load_config
from .config_check import RoleUnknown, check_config_file
from .config_docs import render_markdown as render_config_reference
from .daemon import Daemon, DaemonError, query
from .demo import DemoError, run_demo, run_redundant_demo
from .errors import ParseError
from .io.netns import can_use_netns
from .roles.counter_docs import ALIASES, ROLE_TABLES, render_markdown, table_for
from .scenarios import SCENARIOS, run_scenario
from .scenarios.registry import scenario_parameters
from .service import UNIT_ROLES, configure_logging, unit_text
from .store import StoreError, describe_store
from .wire import parse


def _print_results(report: dict, as_json: bool) -> None:
    if as_json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    env = report.get("environment", {})
    print(f"mip6fast bench {report['benchmark']}  (Python {env.get('python')}, {env.get('cpus')} CPUs)")
    print(f"{'benchmark':<28} {'mip6fast':>16} {'baseline':>16}  {'ratio':>8}")
    for r in report["results"]:
        base = f"{r['baseline']:>16,.1f}" if "baseline" in r else f"{'-':>16}"
        ratio = f"{r['ratio']:>7.2f}x" if r.get("ratio") is not None else f"{'':>8}"
        print(f"{r['name']:<28} {r['value']:>16,.1f} {base}  {ratio}  {r['unit']}")


def _print_forward(report: dict) -> None:
    env = report.get("environment", {})
    reg = report["registration"]
    print(f"mip6fast bench forward  (Python {env.get('python')}, {env.get('cpus')} CPUs; "
          f"{reg['bindings']} bindings registered in {reg['seconds']} s; {report['seconds']} s per measurement)")
    print(f"{'size':>6} {'home agent':>12} {'reflector':>12} {'python':>12} {'vs reflector':>13} {'vs python':>10}"
          f" {'corrupt':>8} {'workers=2':>12} {'vs 1':>6}")
    for r in report["results"]:
        two = r.get("workers2_mpps")
        workers = (f" {two * 1e3:>8.1f} kpps {r['workers2_vs_one']:>5.2f}x" if two is not None and
                   r.get("workers2_vs_one") is not None else "")
        print(f"{r['size']:>5}B {r['value'] * 1e3:>8.1f} kpps {r['reflector_mpps'] * 1e3:>7.1f} kpps"
              f" {r['python_mpps'] * 1e3:>7.1f} kpps {r['vs_reflector']:>12.0%} {r['vs_python']:>9.2f}x"
              f" {r['corrupt']:>8}{workers}")


def _plot_ready(args, prog: str) -> bool:
    """--plot asked for and matplotlib missing: say so before the long run, not after it."""
    if getattr(args, "plot", None):
        try:
            plot.require()
        except plot.PlotUnavailable as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return False
    return True


def _save_plot(draw, data, path: str | None, prog: str) -> int:
    """Draw ``data`` into ``path`` (when --plot was given); 0, or 1 when it cannot be drawn."""
    if not path:
        return 0
    try:
        draw(data, path)
    except (ValueError, OSError) as exc:
        print(f"{prog}: --plot {path}: {exc}", file=sys.stderr)
        return 1
    print(f"{prog}: plot written to {path}", file=sys.stderr)
    return 0


def cmd_bench(args) -> int:
    """``mip6fast bench WHAT``: progress on a terminal (forward), ``--plot FILE.png``: the ratios as bars."""
    if not _plot_ready(args, "mip6fast bench"):
        return 2
    with progress.showing(progress.wanted(args.json)):
        status, report = _run_bench(args)
    if status or report is None:
        return status
    return _save_plot(plot.plot_bench, report, args.plot, "mip6fast bench")


def _run_bench(args) -> tuple[int, dict | None]:
    if args.what == "forward":
        ok, why = can_use_netns()
        if not ok:
            print(f"mip6fast bench forward: {why}; it builds network namespaces and opens packet rings",
                  file=sys.stderr)
            return 2, None
        report = forward.report(seconds=1.0 if args.seconds is None else args.seconds, quick=args.quick)
        if args.json:
            _print_results(report, True)
        else:
            _print_forward(report)
        return 0, report
    if args.seconds is None:
        args.seconds = 0.3
    if args.what == "wire":
        report = wire.run(seconds=0.05 if args.quick else args.seconds)
    elif args.what == "datapath":
        report = datapath.report(seconds=0.05 if args.quick else args.seconds)
    elif args.what == "dataplane":
        report = dataplane.report(seconds=0.05 if args.quick else args.seconds, quick=args.quick)
    elif args.what == "binding_cache":
        report = binding_cache.report(seconds=0.05 if args.quick else args.seconds)
    elif args.what == "hashflood":
        keys = args.keys if args.keys is not None else (4_000 if args.quick else hashflood.KEYS)
        report = hashflood.report(seconds=0.05 if args.quick else args.seconds, n=keys)
    elif args.what == "signalling":
        report = signalling.report(seconds=0.05 if args.quick else args.seconds)
    elif args.what == "workers":
        report = workers.report(seconds=0.2 if args.quick else max(args.seconds, 1.0))
    elif args.what == "journal":
        report = journal.report(seconds=0.5 if args.quick else max(args.seconds, 1.0),
                                burst=100 if args.quick else 1000)
    else:  # argparse choices keep this unreachable
        raise SystemExit(f"unknown benchmark {args.what}")
    _print_results(report, args.json)
    return 0, report


def cmd_decode(args) -> int:
    status = 0
    for text in args.hex:
        try:
            data = bytes.fromhex(text)
        except ValueError as exc:
            print(f"not hex: {exc}", file=sys.stderr)
            status = 2
            continue
        try:
            print(parse(data, verify_checksums=not args.no_checksum))
        except ParseError as exc:
            print(f"ParseError: {exc}", file=sys.stderr)
            status = 1
    return status


def cmd_simulate(args) -> int:
    if args.list:
        for name, (description, _) in SCENARIOS.items():
            print(f"{name}  {description}")
        return 0
    if args.name is None:
        print("simulate: give a scenario name or --list", file=sys.stderr)
        return 2
    if args.name not in SCENARIOS:
        print(f"simulate: unknown scenario {args.name!r} (see --list)", file=sys.stderr)
        return 2
    params = {}
    for item in args.param or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"simulate: --param takes key=value, not {item!r}", file=sys.stderr)
            return 2
        try:
            params[key] = int(value)
        except ValueError:
            try:
                params[key] = float(value)
            except ValueError:
                params[key] = value
    if args.scale is not None:
        params["n"] = args.scale
    known = scenario_parameters(args.name)
    unknown = sorted(set(params) - set(known))
    if unknown:
        print(f"simulate: scenario {args.name!r} takes no parameter {', '.join(unknown)}"
              f" (it takes: {', '.join(known) or 'none'})", file=sys.stderr)
        return 2
    with progress.showing(progress.wanted(args.json)):
        summary = run_scenario(args.name, seed=args.seed, pcap_dir=args.pcap_dir, **params)
    if not args.json:
        for line in summary.pop("timeline", []):
            print(line)
    json.dump(summary, sys.stdout, indent=None if args.json else 2)
    sys.stdout.write("\n")
    return 0


DEFAULT_SOCKETS = {"ha": "/run/mip6fast/ha.sock", "mn": "/run/mip6fast/mn.sock", "cn": "/run/mip6fast/cn.sock",
                   "router": "/run/mip6fast/router.sock"}


def cmd_daemon(args) -> int:
    """``mip6fast ha|mn|cn --config FILE``: run a role until SIGINT/SIGTERM. ``mip6fast ha switchover``:
    ask a running active home agent to resign (a planned handover to a standby)."""
    if getattr(args, "action", None) == "home-agent-switch":
        try:
            answer = query(args.control_socket or DEFAULT_SOCKETS["ha"], "home-agent-switch", agents=args.to,
                           homes=args.home)
        except DaemonError as exc:
            print(f"mip6fast ha home-agent-switch: {exc}", file=sys.stderr)
            return 1
        if "error" in answer:
            print(f"mip6fast ha home-agent-switch: {answer['error']}", file=sys.stderr)
            return 1
        print(f"Home Agent Switch sent to {answer['sent']} mobile node(s), naming "
              f"{', '.join(answer['agents']) or 'no home agent (they discover one)'}")
        return 0
    if getattr(args, "action", None) == "switchover":
        path = args.control_socket or DEFAULT_SOCKETS["ha"]
        try:
            answer = query(path, "switchover")
        except DaemonError as exc:
            print(f"mip6fast ha switchover: {exc}", file=sys.stderr)
            return 1
        if "error" in answer:
            print(f"mip6fast ha switchover: {answer['error']}", file=sys.stderr)
            return 1
        print(f"{answer['resigned']}: resigned; a standby of the group takes over")
        return 0
    if args.config is None:
        print(f"mip6fast {args.command}: --config is required to run the daemon", file=sys.stderr)
        return 2
    if getattr(args, "check", False):
        return _check(args.config, args.command, as_json=False, prog=f"mip6fast {args.command}")
    try:
        config = load_config(args.config, args.command)
    except ConfigError as exc:
        print(f"mip6fast {args.command}: {args.config}: {exc}", file=sys.stderr)
        return 2
    # Only the mip6fast loggers at the chosen level; pyroute2 and the rest at warning (mip6fast.service).
    configure_logging(args.log_level or config.daemon.log_level, args.log_format or config.daemon.log_format)
    socket_path = args.control_socket or config.daemon.control_socket or DEFAULT_SOCKETS[args.command]
    daemon = Daemon(config, pcap=args.pcap, control_socket=socket_path, config_path=args.config,
                    log_level=args.log_level)
    try:
        daemon.start()
    except DaemonError as exc:
        print(f"mip6fast {args.command}: {exc}", file=sys.stderr)
        return 1
    try:
        daemon.run()
    finally:
        daemon.close()
    if daemon.failed:
        print(f"mip6fast {args.command}: {daemon.failed}", file=sys.stderr)
        return 1
    return 0


def cmd_demo(args) -> int:
    """``mip6fast demo``: the three roles on a namespace network with real kernel traffic."""
    if os.geteuid() != 0:
        print("mip6fast demo: needs root (it builds network namespaces, veth pairs and bridges, and runs "
              "the daemons on them). Without root, try the simulator: mip6fast simulate --list, then "
              "mip6fast simulate handover", file=sys.stderr)
        return 1
    if not _plot_ready(args, "mip6fast demo"):
        return 2
    runs = (True, False) if not args.no_route_optimisation else (False,)
    try:
        if args.redundant:
            report = run_redundant_demo(as_json=args.json)
        else:
            with progress.showing(progress.wanted(args.json)):
                report = run_demo(as_json=args.json, pcap_dir=args.pcap_dir, route_optimisation_runs=runs)
    except DemoError as exc:
        print(f"mip6fast demo: {exc} (the network was removed)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mip6fast demo: interrupted; the network, daemons and files it made were removed", file=sys.stderr)
        return 130
    if not args.redundant and _save_plot(plot.plot_handovers, report["summary"], args.plot, "mip6fast demo"):
        return 1
    return 0 if report["summary"]["tcp_survived"] else 3


def _find_socket(args) -> str | None:
    if args.socket:
        return args.socket
    running = [p for p in DEFAULT_SOCKETS.values() if os.path.exists(p)]
    return running[0] if len(running) == 1 else None


def _print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


def cmd_store(args) -> int:
    """``mip6fast bindings --store PATH``: the bindings in a home agent's binding store, read offline
    (without the writer's lock: the home agent may be running)."""
    try:
        rows = describe_store(args.store)
    except StoreError as exc:
        print(f"mip6fast bindings: {exc}", file=sys.stderr)
        return 1
    if args.json:
        json.dump({"store": args.store, "bindings": rows}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _print_table(rows, ["home_address", "care_of_address", "sequence", "flag_letters", "lifetime_s", "expires",
                        "remaining_s", "expired", "protection"])
    print(f"({len(rows)} binding{'s' if len(rows) != 1 else ''}, store {args.store})")
    return 0


def cmd_query(args) -> int:
    """``mip6fast bindings`` / ``mip6fast stats``: ask a running daemon over its control socket."""
    if getattr(args, "store", None):
        return cmd_store(args)
    path = _find_socket(args)
    if path is None:
        print(f"mip6fast {args.command}: give --socket (no single daemon at {', '.join(DEFAULT_SOCKETS.values())})",
              file=sys.stderr)
        return 2
    try:
        answer = query(path, args.command)
    except DaemonError as exc:
        print(f"mip6fast {args.command}: {exc}", file=sys.stderr)
        return 1
    if "error" in answer:
        print(f"mip6fast {args.command}: {answer['error']}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(answer, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.command == "bindings":
        rows = answer["bindings"]
        columns = [c for c in ("peer", "home_address", "care_of_address", "sequence", "flags", "expires_in_s",
                               "packets", "bytes") if any(c in r for r in rows)] or ["home_address"]
        _print_table(rows, columns)
        print(f"({len(rows)} binding{'s' if len(rows) != 1 else ''}, {answer['role']})")
        r = answer.get("redundancy")
        if r:
            lease = (f"lease {r['lease_id']}, {r['lease_remaining_s']:.1f} s of {r['lease_ttl_s']} s left"
                     if r["state"] == "active" else f"lease TTL {r['lease_ttl_s']} s")
            if r.get("lag_revisions") is not None:
                since = r.get("since_applied_s")
                lag = (f"replication lag {r['lag_revisions']} revision(s) (etcd at {r.get('etcd_revision')}, "
                       f"mirrored to {r.get('applied_revision')}), last change applied "
                       + ("never" if since is None else f"{since:.1f} s ago"))
            elif r.get("commit_rtt_s") is not None:
                lag = f"last commit round trip {r['commit_rtt_s'] * 1000:.1f} ms"
            else:
                lag = "no commit yet"
            print(f"redundancy: {r['member']} is {r['state'].upper()}; {lease}; etcd revision "
                  f"{r.get('etcd_revision', r['store_revision'])}; {lag}; takeovers {r['takeovers']}")
    elif args.describe:
        # The node's counters with what each means (the daemon sends the meanings of its role's table).
        meanings = answer.get("meanings") or {}
        print(f"[node] ({answer.get('role')})")
        for k, v in (answer.get("node") or {}).items():
            print(f"  {k:<44} {v:>12}  {meanings.get(k) or '(undeclared)'}")
    else:
        for section in ("daemon", "store", "node", "runner", "ports", "tun", "control"):
            value = answer.get(section)
            if not value:
                continue
            print(f"[{section}]")
            items = value.items() if section != "ports" else (
                (f"{port}.{k}", v) for port, c in value.items() for k, v in c.items())
            for k, v in items:
                print(f"  {k:<44} {v}")
    return 0


def cmd_counters(args) -> int:
    """``mip6fast counters ROLE``: the counters a role declares, with their meanings (no daemon needed)."""
    if args.markdown:
        sys.stdout.write(render_markdown())
        return 0
    if args.role is None:
        print("mip6fast counters: give a role: " + ", ".join([*ROLE_TABLES, *ALIASES]), file=sys.stderr)
        return 2
    try:
        table = table_for(args.role)
    except KeyError:
        print(f"mip6fast counters: unknown role {args.role!r} ({', '.join([*ROLE_TABLES, *ALIASES])})",
              file=sys.stderr)
        return 2
    if args.json:
        json.dump({"role": table.role, "counters": {d.name: d.meaning for d in table}}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for d in table:
        print(f"{d.name:<48} {d.meaning}")
    print(f"({len(table)} counters declared for {table.role})")
    return 0


EXAMPLES = ("ha", "mn", "cn", "router", "keys")


def cmd_example_config(args) -> int:
    """The example configurations installed with the package (mip6fast/examples/NAME.toml)."""
    sys.stdout.write((resources.files("mip6fast") / "examples" / f"{args.name}.toml").read_text())
    return 0


def cmd_systemd_unit(args) -> int:
    """The systemd unit installed with the package for a daemon (mip6fast/systemd/mip6fast-ROLE.service)."""
    sys.stdout.write(unit_text(args.role))
    return 0


def _check(path: str, role: str | None, as_json: bool, prog: str = "mip6fast check") -> int:
    """Validate a configuration (mip6fast.config_check): every mistake, one a line as FILE:LINE: KEY:
    MESSAGE on stderr; 0 when usable, 1 when not, 2 when the role cannot be told."""
    try:
        report = check_config_file(path, role)
    except RoleUnknown as exc:
        print(f"{prog}: {path}: {exc}", file=sys.stderr)
        return 2
    if as_json:
        json.dump(report.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0 if report.ok else 1
    for problem in report.problems:
        for i, line in enumerate(problem.format(path).splitlines()):
            print(line if i == 0 else f"    {line}", file=sys.stderr)
    if not report.ok:
        n = len(report.problems)
        print(f"{prog}: {path}: {n} error{'s' * (n != 1)} (role {report.role})", file=sys.stderr)
        return 1
    print(f"{path}: ok")
    for note in report.notes:
        print(f"  {note}")
    return 0


def cmd_check(args) -> int:
    """``mip6fast check CONFIG [--role ROLE] [--json]``; ``mip6fast check --reference``: docs/CONFIG.md."""
    if args.reference:
        sys.stdout.write(render_config_reference())
        return 0
    if args.config is None:
        print("mip6fast check: give a configuration file (or --reference)", file=sys.stderr)
        return 2
    return _check(args.config, args.role, args.json)


def _add_check_parser(sub) -> None:
    k = sub.add_parser("check", help="validate a daemon configuration without touching interfaces (no root): "
                                     "every error with its key and line, and the key file")
    k.add_argument("config", nargs="?", help="the TOML configuration file")
    k.add_argument("--role", choices=list(ROLES), help="the daemon it is for (default: told from its role "
                                                        "section)")
    k.add_argument("--json", action="store_true", help="print one JSON object: path, role, ok, errors, notes")
    k.add_argument("--reference", action="store_true",
                   help="print docs/CONFIG.md: every key with its type, default and meaning")
    k.set_defaults(func=cmd_check)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mip6fast", description="Mobile IPv6 (RFC 6275) engine")
    p.add_argument("--version", action="version", version=f"mip6fast {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="benchmarks against a pure-Python baseline measured in the same run")
    b.add_argument("what", choices=["wire", "datapath", "dataplane", "binding_cache", "hashflood", "signalling",
                                    "forward", "journal", "workers"],
                   help="which engine part to measure (dataplane: the home agent frames in -> frames out in "
                        "memory against the bare kernel; workers: the home agent's graph in 1 and 2 forked workers "
                        "over shared tables; hashflood: the binding cache under chosen colliding "
                        "keys against random ones; signalling: BU -> BA with and without ESP; forward: "
                        "the home agent on real rings, needs root; journal: BU->BA with the binding store on "
                        "and off; workers: the home agent's graph in 1 and 2 forked workers over shared tables, "
                        "in memory)")
    b.add_argument("--json", action="store_true", help="print one JSON object with a 'results' list")
    b.add_argument("--seconds", type=float, default=None,
                   help="time per measurement (default 0.3; forward: 1.0)")
    b.add_argument("--quick", action="store_true", help="short measurements (smoke run)")
    b.add_argument("--keys", type=int, default=None,
                   help=f"hashflood: keys per set (default {hashflood.KEYS:,}; --quick: 4,000)")
    b.add_argument("--plot", metavar="FILE.png",
                   help="draw the ratios as bars into this PNG (needs matplotlib: pip install 'mip6fast[plot]')")
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("decode", help="parse IPv6 packets given as hex and print them")
    d.add_argument("hex", nargs="+", help="one packet per argument, as hex")
    d.add_argument("--no-checksum", action="store_true", help="do not verify checksums")
    d.set_defaults(func=cmd_decode)

    s = sub.add_parser("simulate", help="run a simulator scenario: a timeline, then a JSON summary")
    s.add_argument("name", nargs="?", help="scenario name")
    s.add_argument("--list", action="store_true", help="list the scenarios, one per line")
    s.add_argument("--pcap-dir", help="write one pcap per link into this directory")
    s.add_argument("--json", action="store_true", help="print only the JSON summary, on one line")
    s.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    s.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="a scenario parameter (numbers are parsed), e.g. --param lifetime=40; repeatable")
    s.add_argument("--scale", type=int, metavar="N", help="the number of mobile nodes (--param n=N)")
    s.set_defaults(func=cmd_simulate)

    m = sub.add_parser("demo", help="the three roles on a namespace network with real traffic and handovers "
                                    "(needs root)")
    m.add_argument("--json", action="store_true", help="print one JSON object (its 'summary' holds the figures)")
    m.add_argument("--pcap-dir", help="record every link into this directory (one pcapng per daemon: its "
                                        "interfaces, each frame's direction)")
    m.add_argument("--no-route-optimisation", action="store_true",
                   help="only the run without route optimisation (default: with, then without)")
    m.add_argument("--plot", metavar="FILE.png",
                   help="draw the handover gaps over time into this PNG (needs matplotlib: "
                        "pip install 'mip6fast[plot]')")
    m.add_argument("--redundant", action="store_true",
                   help="two home agents on an etcd cluster: the active one SIGKILLed, then a planned "
                        "switchover (needs etcd-server; README \"Redundancy\")")
    m.set_defaults(func=cmd_demo)

    for role, what in (("ha", "home agent"), ("mn", "mobile node"), ("cn", "correspondent node"),
                       ("router", "plain IPv6 router sending router advertisements")):
        r = sub.add_parser(role, help=f"run the {what} on real interfaces (needs root)")
        if role == "ha":
            r.add_argument("action", nargs="?", choices=["switchover", "home-agent-switch"],
                           help="switchover: ask the running active home agent (--control-socket) to hand "
                                "its role to a standby of its group now (README \"Redundancy\"); "
                                "home-agent-switch: have it send an RFC 5142 Home Agent Switch to its mobile "
                                "nodes (--to, --home)")
            r.add_argument("--to", action="append", default=[], metavar="ADDRESS",
                           help="home-agent-switch: a home agent the mobile nodes should use (repeat; none: "
                                "they discover one)")
            r.add_argument("--home", action="append", default=[], metavar="HOME_ADDRESS",
                           help="home-agent-switch: only this mobile node (repeat; default: every binding)")
        r.add_argument("--config", required=role != "ha",
                       help=f"TOML configuration file (`mip6fast example-config {role}` prints an example)")
        r.add_argument("--pcap", help="record every frame sent and received to this pcapng file (one "
                                      "interface description per interface, each frame's direction)")
        r.add_argument("--control-socket", help=f"control socket path (default {DEFAULT_SOCKETS[role]})")
        r.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                       help="of the mip6fast loggers (other libraries log warnings only); default: the "
                            "file's [daemon] log_level, else info")
        r.add_argument("--log-format", choices=["text", "json"],
                       help="json: one JSON object per line (time, level, logger, message, fields); default: "
                            "the file's [daemon] log_format, else text")
        r.add_argument("--check", action="store_true",
                       help="validate the configuration (as `mip6fast check`) and exit, touching nothing")
        r.set_defaults(func=cmd_daemon)
    for command, what in (("bindings", "the binding cache (or binding update list) of a running daemon"),
                          ("stats", "the counters of a running daemon")):
        q = sub.add_parser(command, help=what)
        # --control-socket as the daemons and `mip6fast ha` spell it; --socket kept for existing scripts.
        q.add_argument("--socket", "--control-socket", dest="socket", help="the daemon's control socket")
        q.add_argument("--json", action="store_true", help="print the daemon's JSON answer")
        if command == "bindings":
            q.add_argument("--store", metavar="PATH",
                           help="read a home agent's binding store file instead (offline, or while it runs)")
        if command == "stats":
            q.add_argument("--describe", action="store_true",
                           help="print the node's counters with the meaning each is declared with")
        q.set_defaults(func=cmd_query, describe=False)
    e = sub.add_parser("example-config", help="print an example configuration file to start from")
    e.add_argument("name", choices=EXAMPLES, help="a daemon's configuration, or keys: the key file")
    e.set_defaults(func=cmd_example_config)
    u = sub.add_parser("systemd-unit", help="print the systemd unit of a daemon (Type=notify, watchdog, reload)")
    u.add_argument("role", choices=UNIT_ROLES, help="the daemon: mip6fast-ROLE.service")
    u.set_defaults(func=cmd_systemd_unit)
    c = sub.add_parser("counters", help="the counters a role declares, with their meanings (offline)")
    c.add_argument("role", nargs="?", help="node, router, home_agent (ha), correspondent (cn), "
                                         "mobile_node (mn), fleet, host")
    c.add_argument("--json", action="store_true", help="print one JSON object: role and counters (name: meaning)")
    c.add_argument("--markdown", action="store_true", help="print docs/COUNTERS.md (every role)")
    c.set_defaults(func=cmd_counters)
    _add_check_parser(sub)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
