"""`make bench` (`python -m bench [NAME ...]`): run every benchmark module in bench/ and print its figures.

A benchmark is a module `bench/<name>.py` with a `run()` function. `run()` returns a list of figures,
each a dict {"name": ..., "value": ..., "unit": ..., "note": ...} (unit and note optional), or a
(name, value, unit) tuple; a figure whose value is None is printed as skipped with its note (for
example when PostgreSQL or Redis is not configured). Modules whose names start with "_" are helpers.
Django is set up once, before any module is imported, with the settings of the environment
(DJANGO_SETTINGS_MODULE, default credits_site.settings.local; DATABASE_URL, CELERY_BROKER_URL).

    python -m bench            # every module
    python -m bench recharge   # only bench/recharge.py
    python -m bench --list
"""

import argparse
import datetime
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from bench import cpu_model

BENCH_DIR = Path(__file__).resolve().parent


def discover():
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_"))


def machine():
    return f"{platform.node()}: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def normalise(figure):
    if isinstance(figure, dict):
        return {"name": figure["name"], "value": figure.get("value"), "unit": figure.get("unit", ""), "note": figure.get("note", "")}
    name, value, *rest = figure
    return {"name": name, "value": value, "unit": rest[0] if rest else "", "note": rest[1] if len(rest) > 1 else ""}


def show(value):
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    args = parser.parse_args(argv)
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    unknown = sorted(set(args.names) - set(available))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)} (have: {', '.join(available)})")

    sys.path.insert(0, str(BENCH_DIR.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credits_site.settings.local")
    import django
    from django.conf import settings

    django.setup()
    db = settings.DATABASES["default"]
    print(f"Benchmarks, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine()}")
    print(f"Database: {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('NAME')}; broker: {settings.CELERY_BROKER_URL.split('@')[-1]}")
    failures = 0
    for name in args.names or available:
        print(f"\n== {name}")
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            if not hasattr(module, "run"):
                print("   (no run(): skipped)")
                continue
            figures = module.run() or []
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            failures += 1
            traceback.print_exc()
            continue
        for figure in map(normalise, figures):
            if figure["value"] is None:
                print(f"   {figure['name']}: skipped. {figure['note']}".rstrip())
            else:
                note = f"  ({figure['note']})" if figure["note"] else ""
                print(f"   {figure['name']}: {show(figure['value'])} {figure['unit']}{note}".rstrip())
        print(f"   [{time.perf_counter() - started:,.1f} s]")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
