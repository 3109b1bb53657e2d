"""The ``mip6fast`` command."""
import argparse
import json
import sys


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
        ratio = f"{r['ratio']:>7.1f}x" if r.get("ratio") is not None else f"{'':>8}"
        print(f"{r['name']:<28} {r['value']:>16,.1f} {base}  {ratio}  {r['unit']}")


def cmd_bench(args) -> int:
    if args.what == "wire":
        from .benchmark import wire
        report = wire.run(seconds=0.05 if args.quick else args.seconds)
    elif args.what == "datapath":
        from .benchmark import datapath
        report = datapath.report(seconds=0.05 if args.quick else args.seconds)
    elif args.what == "binding_cache":
        from .benchmark import binding_cache
        report = binding_cache.report(seconds=0.05 if args.quick else args.seconds)
    else:  # argparse choices keep this unreachable
        raise SystemExit(f"unknown benchmark {args.what}")
    _print_results(report, args.json)
    return 0


def cmd_decode(args) -> int:
    from .errors import ParseError
    from .wire import parse
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
    from .scenarios import SCENARIOS, run_scenario
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
    summary = run_scenario(args.name, seed=args.seed, pcap_dir=args.pcap_dir)
    if not args.json:
        for line in summary.pop("timeline", []):
            print(line)
    json.dump(summary, sys.stdout, indent=None if args.json else 2)
    sys.stdout.write("\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(prog="mip6fast", description="Mobile IPv6 (RFC 6275) engine")
    p.add_argument("--version", action="version", version=f"mip6fast {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="benchmarks against a pure-Python baseline measured in the same run")
    b.add_argument("what", choices=["wire", "datapath", "binding_cache"], help="which engine part to measure")
    b.add_argument("--json", action="store_true", help="print one JSON object with a 'results' list")
    b.add_argument("--seconds", type=float, default=0.3, help="time per measurement (default 0.3)")
    b.add_argument("--quick", action="store_true", help="short measurements (smoke run)")
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
    s.set_defaults(func=cmd_simulate)
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
