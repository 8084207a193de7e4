#!/usr/bin/env python3
"""Serve the Index Exchange simulator in the foreground, for trying the suite without an
Index Exchange account. Prints the settings that point the suite at it."""

import signal
import sys
import threading

import cli
from errors import ConfigurationError
from standins.ixsimdata import MAX_PUBLISHERS
from standins.ixsimulator import IXSimulator


def build_parser():
    parser = cli.make_parser(__doc__, epilog=(
        "The credentials printed are the simulator's own, made from the seed: they open\n"
        "nothing but this sandbox. Stop with Ctrl-C."))
    parser.add_argument("-p", "--port", type=int, default=8480, help="port on 127.0.0.1 (0: any free one); default 8480")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data; default 1")
    parser.add_argument("--publishers", type=int, default=4,
                        help=f"number of publisher accounts (1-{MAX_PUBLISHERS}); default 4")
    parser.add_argument("--run-delay", type=float, default=2.0, help="seconds until a report run's file is ready; default 2")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request; default 0")
    parser.add_argument("--cal-hours", type=int, default=24, help="hours of CAL log files published; default 24")
    return parser


def main(args):
    if not 0 <= args.port <= 65535:
        raise ConfigurationError(f"-p/--port must be 0..65535, got {args.port}")
    if not 1 <= args.publishers <= MAX_PUBLISHERS:
        raise ConfigurationError(f"--publishers must be 1..{MAX_PUBLISHERS}, got {args.publishers}")
    try:
        # unique_ids: a database kept from an earlier sandbox never sees a spec or file id again.
        sim = IXSimulator(seed=args.seed, publishers=args.publishers, port=args.port, unique_ids=True,
                          run_delay=args.run_delay, latency=args.latency, cal_window_hours=args.cal_hours)
        sim.start()
    except OSError as err:
        raise ConfigurationError(f"cannot listen on 127.0.0.1:{args.port}: {err.strerror}") from err
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    world = sim.world
    lines = [
        f"Index Exchange simulator (seed {args.seed}) serving at {sim.base_url}",
        "",
        "Point the suite at it (sandbox credentials, good for nothing else):",
        f"  export INDEXEXCHANGEBASEURL={sim.base_url}",
        f"  export INDEXEXCHANGEIDENTITYURL={sim.base_url}",
        f"  export INDEXEXCHANGEUSERNAME={world.username}",
        f"  export INDEXEXCHANGEPASSWORD={world.password}",
        "",
        "Publishers (account id, CAL API key, name):",
    ]
    lines += [f"  {pid}  {world.api_keys[pid]}  {world.publisher_names[pid]}" for pid in world.publisher_ids]
    lines += ["", "Report templates (reportID, title):"]
    for sid in sim.active_spec_ids():
        body, _ = sim.spec(sid)
        if body["accounts"][0] in world.publisher_ids:
            lines.append(f"  {sid}  {body['reportTitle']}")
    lines += ["", "Press Ctrl-C to stop."]
    print("\n".join(lines), flush=True)
    stop.wait()
    sim.stop()
    print("simulator stopped", flush=True)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
