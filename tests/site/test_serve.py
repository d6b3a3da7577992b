"""bin/serve, and `make run` / `make stack` through it, leave no process behind: not on Ctrl-C (INT),
not on TERM or HUP, whether the signal reaches the supervisor or only make, not when one process dies
and not when make itself is killed. Stand-ins play gunicorn (a master with a forked child) and a
Celery worker with an embedded beat that ignores TERM; one test runs the real `make run`.

Every wait is bounded; whatever a failing test started is killed by its clean-up.
"""

import concurrent.futures
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .processes import descendants, kill_all, survivors, wait_for

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "bin" / "serve"
GRACE = 1  # seconds between TERM and KILL for the stand-ins: the deaf one always needs the KILL
STOP_WITHIN = GRACE + 8

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or shutil.which("make") is None, reason="needs Linux's /proc and GNU make"
)

STANDIN = textwrap.dedent(
    """
    import os, signal, sys, time
    kind, pid_dir = sys.argv[1], sys.argv[2]
    if kind == "deaf":  # like an embedded beat that does not end on TERM
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if kind == "forking":  # like gunicorn's master and worker, or Celery's pool: same process group
        os.fork()
    open(os.path.join(pid_dir, f"{kind}-{os.getpid()}"), "w").close()
    if kind == "quitter":
        time.sleep(0.5)
        sys.exit(3)
    time.sleep(120)
    """
)
PIDS_PER_KIND = {"forking": 2, "deaf": 1, "quitter": 1}


@pytest.fixture
def standins(tmp_path):
    """Writes the stand-in script; returns (entries for bin/serve, pid directory, marker)."""
    script = tmp_path / "standin.py"
    script.write_text(STANDIN)
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()

    def entries(*kinds):
        return [f"{kind}: {sys.executable} {script} {kind} {pid_dir}" for kind in kinds]

    yield entries, pid_dir, str(tmp_path)
    kill_all(survivors(marker=str(tmp_path)))


def started(pid_dir, kinds):
    """{pid: kind} of the stand-ins, once all of them have written their pid file."""
    expected = sum(PIDS_PER_KIND[k] for k in kinds)
    assert wait_for(lambda: len(list(pid_dir.iterdir())) >= expected, 20), "the stand-ins did not all start"
    return {int(pid): kind for kind, pid in (p.name.rsplit("-", 1) for p in pid_dir.iterdir())}


def groups_of(pids):
    return {os.getpgid(pid) for pid in pids}


def assert_nothing_left(pids, pgids, marker):
    gone = wait_for(lambda: not survivors(pids, pgids, marker), 5)
    assert gone, f"left running: {survivors(pids, pgids, marker)}"


# make as a terminal starts it: INT, TERM and HUP at their defaults. A program started in the background
# by a non-interactive shell (a CI script, `pytest &`) inherits INT ignored, and an ignored signal
# stays ignored across exec: such a make would never see the Ctrl-C these tests send.
AS_FROM_A_TERMINAL = [
    sys.executable, "-c",
    "import os, signal, sys\n"
    "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])",
]


def make_env(**overrides):
    """The environment for a make of our own, independent of a make that runs the tests (make test):
    no inherited flags, level or jobserver."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(overrides)
    return env


def run_serve(entries, *extra):
    return subprocess.Popen(
        [sys.executable, str(SERVE), "--grace", str(GRACE), *extra, *entries],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_to_the_supervisor_stops_every_process_and_its_children(standins, signum):
    entries, pid_dir, marker = standins
    kinds = ("forking", "deaf")
    serve = run_serve(entries(*kinds))
    pids = started(pid_dir, kinds)
    pgids = groups_of(pids)
    assert serve.pid not in pgids, "each process runs in a group of its own, not the supervisor's"

    serve.send_signal(signum)
    assert serve.wait(timeout=STOP_WITHIN) == 128 + signum
    assert_nothing_left(pids, pgids, marker)
    assert "deaf still running; killing its process group" in serve.stderr.read()


def test_when_one_process_ends_the_others_are_stopped_and_its_status_returned(standins):
    entries, pid_dir, marker = standins
    kinds = ("forking", "quitter")
    serve = run_serve(entries(*kinds))
    pids = started(pid_dir, kinds)
    pgids = groups_of(pid for pid, kind in pids.items() if kind == "forking")  # the quitter may be gone
    assert serve.wait(timeout=STOP_WITHIN) == 3
    assert_nothing_left(pids, pgids, marker)
    assert "quitter exited with status 3; stopping the others" in serve.stderr.read()


def test_with_follow_parent_everything_stops_when_the_parent_is_killed(standins, tmp_path):
    entries, pid_dir, marker = standins
    kinds = ("forking", "deaf")
    # A parent that can be killed outright: a shell waiting for the supervisor (not exec'ing it).
    command = " ".join([sys.executable, str(SERVE), "--grace", str(GRACE), "--follow-parent", *map(_quote, entries(*kinds))])
    parent = subprocess.Popen(["/bin/sh", "-c", f"{command}; true"], cwd=ROOT, start_new_session=True)
    pids = started(pid_dir, kinds)
    pgids = groups_of(pids)

    parent.kill()
    parent.wait(timeout=5)
    assert_nothing_left(pids, pgids, marker)


def _quote(entry):
    return "'" + entry.replace("'", "'\\''") + "'"


# Through make -------------------------------------------------------------------------------------


def make_with_standins(tmp_path, entries):
    """The real Makefile's SERVE command, as `make run` and `make stack` use it, on stand-ins."""
    makefile = tmp_path / "standins.mk"
    makefile.write_text(
        "include Makefile\n\nstandins:\n\t@exec $(SERVE) --grace " + str(GRACE) + " " + " ".join(map(_quote, entries)) + "\n"
    )
    return subprocess.Popen(
        [*AS_FROM_A_TERMINAL, "make", "-f", str(makefile), "standins", f"BIN={Path(sys.executable).parent}"],
        cwd=ROOT, env=make_env(), start_new_session=True, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_sent_to_make_alone_stops_everything(standins, tmp_path, signum):
    """GNU make passes a TERM on to its recipe, but on an INT or HUP it only waits for it: the
    supervisor notices that make is ending."""
    entries, pid_dir, marker = standins
    kinds = ("forking", "deaf")
    make = make_with_standins(tmp_path, entries(*kinds))
    pids = started(pid_dir, kinds)
    pgids = groups_of(pids)

    make.send_signal(signum)
    make.wait(timeout=STOP_WITHIN)
    assert_nothing_left(pids, pgids, marker)
    assert "stopping everything" in make.stderr.read()


def test_a_hang_up_of_the_terminal_stops_everything(standins, tmp_path):
    """A terminal that closes sends HUP to its foreground process group: make and the supervisor."""
    entries, pid_dir, marker = standins
    kinds = ("forking", "deaf")
    make = make_with_standins(tmp_path, entries(*kinds))
    pids = started(pid_dir, kinds)
    pgids = groups_of(pids)

    os.killpg(make.pid, signal.SIGHUP)  # make leads its own group (start_new_session)
    make.wait(timeout=STOP_WITHIN)
    assert_nothing_left(pids, pgids, marker)


def test_killing_make_outright_stops_everything(standins, tmp_path):
    entries, pid_dir, marker = standins
    kinds = ("forking", "deaf")
    make = make_with_standins(tmp_path, entries(*kinds))
    pids = started(pid_dir, kinds)
    pgids = groups_of(pids)

    make.kill()
    make.wait(timeout=5)
    assert_nothing_left(pids, pgids, marker)


# The real `make run` ------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def test_terminating_make_run_stops_runserver_the_worker_and_its_beat(tmp_path):
    """The issue's case: `kill <make pid>` left runserver and the worker with its beat running.
    The demo step is skipped (make -o demo): an empty SQLite database is enough to serve /health/."""
    port = free_port()
    env = make_env(DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}")
    for name in ("CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"):  # make run's own defaults
        env.pop(name, None)
    log = ROOT / "var" / "celery.log"
    log.unlink(missing_ok=True)  # make run starts it afresh; an old one would say "ready." too soon
    make = subprocess.Popen(
        [*AS_FROM_A_TERMINAL, "make", "-o", "demo", "run", f"PORT={port}", f"BIN={Path(sys.executable).parent}"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    tree = {}
    try:
        assert wait_for(lambda: answers(f"http://127.0.0.1:{port}/health/"), 60), "runserver did not answer"
        # The worker (with its pool and its beat) is up when its log says so.
        assert wait_for(lambda: log.exists() and "ready." in log.read_text(errors="replace"), 60), "the worker did not start"
        tree = descendants(make.pid)
        commands = " ".join(row[2] for row in tree.values())
        assert "runserver" in commands and "celery" in commands and "--beat" in commands

        make.send_signal(signal.SIGTERM)
        make.wait(timeout=30)
        pgids = {row[1] for row in tree.values()}
        assert_nothing_left(set(tree), pgids, marker=None)
    finally:
        kill_all([make.pid, *tree])


# The Procfile is what make stack runs --------------------------------------------------------------


def web_arguments(env):
    """The Procfile's web command as the shell of bin/serve expands it, one argument a line."""
    web = next(line.split(":", 1)[1] for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    shown = subprocess.run(["/bin/sh", "-c", "printf '%s\\n' " + web.strip()], env={"PATH": os.environ["PATH"], **env},
                           capture_output=True, text=True, timeout=10, check=True)
    arguments = shown.stdout.splitlines()
    return {name: arguments[i + 1] for i, name in enumerate(arguments) if name.startswith("--") and i + 1 < len(arguments)}


@pytest.mark.parametrize("env, connections", [({}, "2"), ({"WEB_THREADS": "4"}, "4"), ({"WEB_THREADS": "4", "WEB_CONNECTIONS": "50"}, "50")])
def test_a_web_worker_takes_no_more_connections_than_its_threads_unless_told(env, connections):
    """A gunicorn worker whose threads are busy leaves new connections to another worker: it takes as
    many connections as it has threads, and closes each after its response (keep-alive 0), since a kept
    connection would count against it (docs/operations.md, Environment)."""
    arguments = web_arguments(env)
    assert arguments["--worker-class"] == "gthread"
    assert arguments["--worker-connections"] == connections
    assert arguments["--keep-alive"] == "0"


@contextlib.contextmanager
def gunicorn_as_the_procfile_runs_it(application, workers):
    """Gunicorn serving `application` (a module of tests/site) with the Procfile's web arguments, one
    thread a worker, on a free loopback port (yielded); stopped with its workers afterwards."""
    port = free_port()
    arguments = web_arguments({"WEB_CONCURRENCY": str(workers), "WEB_THREADS": "1", "WEB_BIND": "127.0.0.1", "PORT": str(port)})
    command = [str(Path(sys.executable).parent / "gunicorn"), application]
    for name in ("--bind", "--workers", "--worker-class", "--threads", "--worker-connections", "--keep-alive"):
        command += [name, arguments[name]]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_requests_arriving_together_are_served_by_different_workers_when_one_is_busy():
    """Gunicorn with the Procfile's web settings (two workers of one thread here) and an application
    that answers after a pause: four requests sent together are served by both workers, two each,
    since a busy worker stops taking connections. A worker that takes every connection it can took
    several of them and served them one after another."""
    with gunicorn_as_the_procfile_runs_it("tests.site.slow_wsgi", workers=2) as port:
        def ask(pause):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/?{pause}", timeout=20) as response:
                return response.read().decode()

        # Until both workers have answered: each has booted and loaded the application.
        seen, deadline = set(), time.monotonic() + 60
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            while len(seen) < 2:
                assert time.monotonic() < deadline, f"gunicorn's two workers did not both answer (seen: {seen})"
                try:
                    seen.update(pool.map(ask, [0.2, 0.2]))
                except OSError:
                    time.sleep(0.2)
            pids = list(pool.map(ask, [1.0] * 4))
        assert sorted(pids.count(pid) for pid in set(pids)) == [2, 2]


def test_a_download_whose_rows_fail_partway_ends_as_a_failed_transfer_not_a_short_file():
    """A streamed CSV (transactions, rates) whose rows fail partway, a lost database connection say:
    its 200 and its first rows have left, so the server can only cut the transfer. Served by gunicorn
    as the Procfile runs it, the response is chunked and ends without its last chunk: the browser and
    any HTTP client report an incomplete download, never a shorter file that looks whole."""
    with gunicorn_as_the_procfile_runs_it("tests.site.failing_download_wsgi", workers=1) as port:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                connection.request("GET", "/transactions.csv")
                response = connection.getresponse()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.2)
        assert response.status == 200
        assert response.getheader("Transfer-Encoding") == "chunked" and response.getheader("Content-Length") is None
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
        assert cut.value.partial.startswith(b"Date,Amount\r\n")


def test_make_stack_runs_the_three_processes_of_the_procfile_with_one_beat():
    names = [line.split(":", 1)[0] for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    assert names == ["web", "worker", "beat"]
    commands = (ROOT / "Procfile").read_text()
    assert "gunicorn credits_site.wsgi" in commands and commands.count(" beat") == 1 and "--beat" not in commands
    dry_run = subprocess.run(
        ["make", "-n", "-o", "install", "stack", f"BIN={Path(sys.executable).parent}"],
        cwd=ROOT, env=make_env(), capture_output=True, text=True, timeout=60, check=False,
    )
    assert dry_run.returncode == 0, dry_run.stderr
    last = dry_run.stdout.strip().splitlines()[-1]
    assert "DJANGO_SETTINGS_MODULE=credits_site.settings.production" in last
    assert last.endswith("bin/serve --follow-parent --procfile Procfile")
