"""The kit the bench scripts share: open an Odoo environment on a database, run
``odoo-bin`` (install, update, a server with workers), make a template database
once and copy it, run SQL, and measure blocks of work.

    from odoo_env import OdooServer, copy_database, open_env, template_database

    tpl = template_database("cp_x_tpl", odoo_path, ["collections_proactive"])
    copy_database(tpl, "cp_x_run")                # createdb -T
    with OdooServer(odoo_path, "cp_x_run", port=8869, workers=2) as server:
        server.rpc("object", "execute_kw", ...)
"""

import hashlib
import os
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADDON = "collections_proactive"
DEFAULT_ODOO_PATH = os.environ.get("ODOO_PATH", "/opt/odoo/18.0")

_PARSED = []  # Odoo's configuration is parsed once per process

# A company's contact policy wide open (every day, 0-24 h, no gap, no weekly cap,
# no holidays): what a drill sends is decided by the steps alone.
OPEN_CONTACT_POLICY = {
    "collection_contact_preset": "custom",
    "collection_contact_weekday_from": "0",
    "collection_contact_weekday_to": "6",
    "collection_contact_hour_from": 0.0,
    "collection_contact_hour_to": 24.0,
    "collection_min_days_between_written": 0,
    "collection_max_written_per_week": 0,
    "collection_max_calls_per_week": 0,
    "collection_skip_holidays": False,
}


def add_odoo_path(parser, *aliases):
    """The ``--odoo-path`` option every script takes ($ODOO_PATH by default)."""
    parser.add_argument(
        "--odoo-path",
        *aliases,
        dest="odoo_path",
        default=DEFAULT_ODOO_PATH,
        help="Odoo's source (default $ODOO_PATH, else /opt/odoo/18.0)",
    )


def addons_path(odoo_path, extra_addons=(), repo=REPO):
    """Odoo's addons, the folder holding the addon (this repository unless
    ``repo``: a patched copy, say), then ``extra_addons`` folders."""
    return ",".join([f"{odoo_path}/addons", repo, *extra_addons])


def open_env(db, odoo_path, extra_addons=(), repo=REPO, options=()):
    """``(cursor, env)`` as superuser on ``db``, the addon (and ``extra_addons``
    folders) on the addons path, Odoo configured once per process with
    ``options`` too; the caller commits or rolls back and closes the cursor."""
    if odoo_path not in sys.path:
        sys.path.insert(0, odoo_path)
    import odoo
    from odoo import SUPERUSER_ID, api

    if not _PARSED:
        odoo.tools.config.parse_config(
            [
                f"--addons-path={addons_path(odoo_path, extra_addons, repo)}",
                "--log-level=warn",
                *options,
            ]
        )
        _PARSED.append(True)
    cr = odoo.modules.registry.Registry(db).cursor()
    return cr, api.Environment(cr, SUPERUSER_ID, {})


def close_all():
    """Close this process's connections (before dropping or copying a database it
    opened)."""
    if "odoo" in sys.modules:
        sys.modules["odoo"].sql_db.close_all()


def clock():
    """Wall-clock seconds that freezegun does not freeze."""
    return os.times().elapsed


class Meter:
    """Time and queries of a block: ``with Meter(cr) as m: ...; m.seconds``."""

    def __init__(self, cr):
        self.cr = cr

    def __enter__(self):
        self.start, self.queries0 = clock(), self.cr.sql_log_count
        return self

    def __exit__(self, *exc):
        self.seconds = clock() - self.start
        self.queries = self.cr.sql_log_count - self.queries0


# ----------------------------------------------------------------------------
# PostgreSQL
# ----------------------------------------------------------------------------


def connect(db, autocommit=True):
    """A plain psycopg2 connection (no Odoo), autocommit by default."""
    import psycopg2

    conn = psycopg2.connect(dbname=db)
    conn.autocommit = autocommit
    return conn


def psql(db, query, *args, fetch=True):
    """Run one statement on ``db`` in its own autocommit connection: its rows
    (``fetch``) or None."""
    conn = connect(db)
    try:
        with conn.cursor() as cr:
            cr.execute(query, args or None)
            return cr.fetchall() if fetch and cr.description else None
    finally:
        conn.close()


def q(conn, query, *args):
    """Rows of ``query`` on an open connection ([] for a statement)."""
    with conn.cursor() as cr:
        cr.execute(query, args)
        return cr.fetchall() if cr.description else []


def q1(conn, query, *args):
    """The first column of the first row."""
    return q(conn, query, *args)[0][0]


def database_exists(db):
    return bool(psql("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", db))


def drop_database(db):
    subprocess.run(["dropdb", "--if-exists", db], check=True, stderr=subprocess.DEVNULL)


def copy_database(template, db):
    """``db`` afresh as a copy of ``template`` (``createdb -T``)."""
    drop_database(db)
    subprocess.run(["createdb", "-T", template, db], check=True)
    return db


def addon_hash(repo=REPO):
    """A digest of the addon's files: a template made from other code is stale."""
    addons_dir = os.path.join(repo, ADDON)
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(addons_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".po", ".pot")):
                continue
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, addons_dir).encode())
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()[:16]


# ----------------------------------------------------------------------------
# odoo-bin
# ----------------------------------------------------------------------------


def odoo_command(odoo_path, db, *options, extra_addons=(), repo=REPO):
    """``odoo-bin -d db --addons-path=...`` then ``options``."""
    return [
        sys.executable,
        os.path.join(odoo_path, "odoo-bin"),
        "-d",
        db,
        f"--addons-path={addons_path(odoo_path, extra_addons, repo)}",
        *options,
    ]


def run_odoo(
    odoo_path,
    db,
    *options,
    extra_addons=(),
    repo=REPO,
    stdin=None,
    quiet=True,
    check=True,
):
    """``odoo-bin`` for one job (``-i``/``-u``/``shell``, ``--stop-after-init``
    for the first two), no HTTP, no cron; returns the CompletedProcess (output
    captured when ``quiet``)."""
    command = odoo_command(
        odoo_path,
        db,
        *options,
        "--no-http",
        "--max-cron-threads=0",
        extra_addons=extra_addons,
        repo=repo,
    )
    if "shell" in options:
        # odoo-bin takes the subcommand first.
        command.remove("shell")
        command.insert(2, "shell")
    return subprocess.run(
        command,
        input=stdin,
        capture_output=quiet,
        text=True,
        check=check,
    )


def template_stamp(db):
    """What a template database was made from (its comment), or None."""
    rows = psql(
        "postgres",
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
        " WHERE datname = %s",
        db,
    )
    return rows[0][0] if rows else None


def template_database(
    name,
    odoo_path,
    modules=(ADDON,),
    demo=False,
    extra_addons=(),
    repo=REPO,
    rebuild=False,
    prepare=None,
    log=print,
):
    """A database with ``modules`` installed, made once and reused while the
    addon's code is the same (its digest is the database's comment, which a
    copy does not inherit); ``prepare(name)`` runs after the install (data that
    every copy shares). Returns ``name``; copy it with ``copy_database``."""
    from psycopg2 import sql

    stamp = f"{','.join(modules)} {addon_hash(repo)}{' demo' if demo else ''}"
    if not rebuild and template_stamp(name) == stamp:
        return name
    started = clock()
    log(f"building template {name} (-i {','.join(modules)})")
    drop_database(name)
    subprocess.run(["createdb", name], check=True)
    options = ["-i", ",".join(modules), "--stop-after-init", "--log-level=warn"]
    if not demo:
        options.append("--without-demo=all")
    result = run_odoo(
        odoo_path, name, *options, extra_addons=extra_addons, repo=repo, check=False
    )
    if result.returncode:
        raise SystemExit(f"installing {modules} in {name} failed:\n{result.stderr}")
    if prepare:
        prepare(name)
    close_all()
    psql(
        "postgres",
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(name), sql.Literal(stamp)
        ),
        fetch=False,
    )
    log(f"  template {name} built in {clock() - started:.0f} s")
    return name


def demo_template(odoo_path):
    """The addon and ``payment_demo`` installed with Odoo's and the addon's demo
    data, once while the addon's code is the same (the upgrade drill and the
    portal load copy it)."""
    return template_database(
        "cp_demo_tpl", odoo_path, modules=(ADDON, "payment_demo"), demo=True
    )


class OdooServer:
    """An Odoo server process on ``db``: ``start()`` waits until it answers,
    ``stop()`` terminates it, ``kill9()`` kills it and its workers at once. Also a
    context manager (started on enter, stopped on exit)."""

    def __init__(
        self,
        odoo_path,
        db,
        port,
        workers=2,
        cron_threads=0,
        logfile=None,
        options=(),
        extra_addons=(),
        repo=REPO,
        env=None,
        ready_timeout=180,
    ):
        self.odoo_path, self.db, self.port, self.repo = odoo_path, db, port, repo
        self.workers, self.cron_threads = workers, cron_threads
        self.logfile, self.options = logfile, list(options)
        self.extra_addons, self.env = extra_addons, env
        self.ready_timeout = ready_timeout
        self.base = f"http://127.0.0.1:{port}"
        self.process = None

    def command(self):
        command = odoo_command(
            self.odoo_path,
            self.db,
            f"--db-filter=^{self.db}$",
            f"--workers={self.workers}",
            f"--max-cron-threads={self.cron_threads}",
            f"--http-port={self.port}",
            f"--gevent-port={self.port + 1}",
            extra_addons=self.extra_addons,
            repo=self.repo,
        )
        if self.logfile:
            command.append(f"--logfile={self.logfile}")
        return command + self.options

    def start(self):
        import requests

        # Without a log file, the server writes to this process's terminal.
        output = open(self.logfile + ".stderr", "a") if self.logfile else None  # noqa: SIM115
        # Its own process group: kill -9 reaches the master and every worker.
        self.process = subprocess.Popen(
            self.command(),
            env=dict(os.environ, **(self.env or {})),
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        if output:
            output.close()
        deadline = clock() + self.ready_timeout
        while clock() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited: see {self.logfile}")
            try:
                if requests.get(f"{self.base}/web/login", timeout=30).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(1)
        self.stop()
        raise SystemExit(f"the server did not answer in {self.ready_timeout} s")

    def kill9(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for _ in range(50):  # the orphaned workers, reaped by init
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)

    def stop(self):
        if not self.process or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill9()
        else:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def rpc(self, service, method, *args, timeout=300):
        """JSON-RPC ``service.method(*args)``; raises on an error response."""
        import requests

        response = requests.post(
            f"{self.base}/jsonrpc",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "id": 1,
                "params": {"service": service, "method": method, "args": list(args)},
            },
            timeout=timeout,
        )
        data = response.json()
        if "error" in data:
            error = data["error"].get("data", {}).get("message") or data["error"]
            raise RuntimeError(str(error)[:200])
        return data["result"]
