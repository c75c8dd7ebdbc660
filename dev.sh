#!/usr/bin/env bash
# One entry point for everything a developer or CI does with this repository.
#
#   ./dev.sh run    set up, create or reuse the demo database, serve Odoo on :8069
#                   with a mail catcher beside it (.demo-mail/, http://localhost:8025)
#   ./dev.sh test   set up, run lint, install the addon in a fresh database, run every test
#                   with Odoo's runner (what CI runs); args go to Odoo, e.g.
#                   --test-tags=/collections_proactive:TestAutoDebit
#   ./dev.sh pytest [args]    (or ./dev.sh test --pytest [args])
#                   the tests under pytest-odoo on a database kept between runs
#                   ($PYTEST_DB, default cp_pytest: created, and made afresh when the
#                   addon changed), e.g. ./dev.sh pytest collections_proactive/tests/test_auto_debit.py
#   ./dev.sh lint   ruff, ruff-format, pylint-odoo, oca-checks-odoo-module, oca-checks-po
#   ./dev.sh i18n   export i18n/collections_proactive.pot and merge it into i18n/es.po
#   ./dev.sh odoo-tests [--fast] [--baseline]
#                   Odoo's own post-install tests of the modules the addon extends
#                   (account, account_payment, sms, portal, mail), with the addon
#                   installed (--baseline: without it, to compare)
#   ./dev.sh setup  only the set-up (system packages, virtualenv, PostgreSQL)
#
# Odoo's source is taken from $ODOO_PATH (default /opt/odoo/18.0).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ADDON=collections_proactive
ODOO_PATH=${ODOO_PATH:-/opt/odoo/18.0}
DEMO_DB=${DEMO_DB:-collections_demo}
HTTP_PORT=${HTTP_PORT:-8069}
TEST_HTTP_PORT=${TEST_HTTP_PORT:-8169}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

check_odoo() {
    if [ ! -x "$ODOO_PATH/odoo-bin" ] || ! grep -q "version_info = (18, 0" "$ODOO_PATH/odoo/release.py" 2>/dev/null; then
        die "Odoo 18.0 source not found at ODOO_PATH=$ODOO_PATH.
Provide an unmodified Odoo 18.0 tree there, e.g.:
    git clone --depth 1 --branch 18.0 https://github.com/odoo/odoo.git /opt/odoo/18.0
or point ODOO_PATH at an existing checkout: ODOO_PATH=/path/to/odoo ./dev.sh test"
    fi
}

setup_system() {
    local missing=()
    command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
    [ -e /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)
    command -v chromium >/dev/null || missing+=(chromium)
    command -v wkhtmltopdf >/dev/null || missing+=(wkhtmltopdf)
    if [ ${#missing[@]} -gt 0 ]; then
        say "Installing system packages: ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

setup_postgres() {
    if ! pg_isready -q 2>/dev/null; then
        say "Starting PostgreSQL"
        as_root service postgresql start >/dev/null
        for _ in $(seq 30); do pg_isready -q && break; sleep 1; done
    fi
    local me; me=$(id -un)
    if ! as_root su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$me'\"" | grep -q 1; then
        say "Creating PostgreSQL role $me"
        as_root su postgres -c "psql -qc 'CREATE ROLE \"$me\" SUPERUSER LOGIN'"
    fi
}

setup_venv() {
    # One virtualenv per set of pinned requirements, reused across clones of the repo.
    local key
    key=$( (cat "$ODOO_PATH/requirements.txt" "$ROOT/requirements-dev.txt"; python3 --version) | sha1sum | cut -c1-12)
    VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/collections_proactive/venv-$key}
    PY=$VENV/bin/python
    if [ ! -f "$VENV/.complete" ]; then
        say "Creating virtualenv $VENV with Odoo's pinned requirements"
        rm -rf "$VENV"
        python3 -m venv "$VENV"
        local tmp; tmp=$(mktemp -d)
        # cbor2 builds from source and needs pkg_resources; python-ldap only serves auth_ldap.
        echo 'setuptools<70' > "$tmp/constraints.txt"
        grep -vi python-ldap "$ODOO_PATH/requirements.txt" > "$tmp/odoo-req.txt"
        # Recent pip reads build constraints from PIP_BUILD_CONSTRAINT, older from PIP_CONSTRAINT.
        PIP_CONSTRAINT=$tmp/constraints.txt PIP_BUILD_CONSTRAINT=$tmp/constraints.txt \
            "$VENV/bin/pip" install -q -r "$tmp/odoo-req.txt"
        "$VENV/bin/pip" install -q -r "$ROOT/requirements-dev.txt"
        rm -rf "$tmp"
        touch "$VENV/.complete"
    fi
    # setuptools<70 was only needed to build cbor2. Its pkg_resources does not find
    # zope_interface-*.dist-info as zope.interface, so the gevent process of a server
    # with --workers dies at start; 70-79 finds it and still warns as Odoo expects.
    if ! "$PY" -c 'import sys, setuptools; sys.exit(int(setuptools.__version__.split(".")[0]) < 70)'; then
        "$VENV/bin/pip" install -q 'setuptools>=70,<80'
    fi
}

setup() {
    check_odoo
    setup_system
    setup_postgres
    setup_venv
}

odoo() {
    "$PY" "$ODOO_PATH/odoo-bin" --addons-path="$ODOO_PATH/addons,$ROOT" "$@"
}

cmd_lint() {
    setup_venv
    say "Lint: ruff"
    "$VENV/bin/ruff" check "$ROOT/$ADDON"
    "$VENV/bin/ruff" format --check "$ROOT/$ADDON"
    say "Lint: pylint-odoo (OCA mandatory checks)"
    (cd "$ROOT" && "$VENV/bin/pylint" --rcfile=.pylintrc-mandatory "$ADDON")
    say "Lint: oca-checks-odoo-module, oca-checks-po"
    (cd "$ROOT" && "$VENV/bin/oca-checks-odoo-module" "$ADDON")
    (cd "$ROOT" && "$VENV/bin/oca-checks-po" --disable=po-pretty-format $(find "$ADDON" -name '*.po' -o -name '*.pot'))
    say "Lint: clean"
}

# The demo's mail catcher (bench/mail_catcher.py): what the demo sends lands here.
MAIL_DIR=${MAIL_DIR:-$ROOT/.demo-mail}
MAIL_PORT=${MAIL_PORT:-2525}
MAIL_WEB_PORT=${MAIL_WEB_PORT:-8025}

module_state() { psql -d "$DEMO_DB" -tAc "SELECT state FROM ir_module_module WHERE name = '$1'" 2>/dev/null || true; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_mail_catcher() {
    if listening "$MAIL_PORT"; then
        say "Port $MAIL_PORT is taken: using the mail catcher already running there"
        return
    fi
    "$PY" "$ROOT/bench/mail_catcher.py" --dir "$MAIL_DIR" --smtp-port "$MAIL_PORT" \
        --web-port "$MAIL_WEB_PORT" &
    CATCHER_PID=$!
    trap 'kill "$CATCHER_PID" 2>/dev/null || true' EXIT
    for _ in $(seq 50); do listening "$MAIL_PORT" && return; sleep 0.1; done
    die "the mail catcher did not start (ports $MAIL_PORT and $MAIL_WEB_PORT free?)"
}

prepare_demo() {
    # Outgoing mail to the catcher (an ir.mail_server first of all, for the demo
    # company's domain: what Odoo sends as someone else, OdooBot's notifications
    # say, goes from the company's address), SMS to its copy of Odoo's SMS API,
    # then the demo story (collection.demo.loader: nothing when the database has
    # it). Nothing the demo sends leaves the machine.
    odoo shell -d "$DEMO_DB" --log-level=warn --no-http >/dev/null <<PY
domain = env["mail.alias.domain"].search([("name", "=", "proactiva.example")], limit=1)
if not domain:
    domain = domain.create({"name": "proactiva.example", "default_from": "cobranzas"})
env["res.company"].search([("alias_domain_id", "=", False)]).alias_domain_id = domain
values = {
    "name": "Demo mail catcher", "smtp_host": "127.0.0.1", "smtp_port": $MAIL_PORT,
    "smtp_encryption": "none", "smtp_authentication": "login", "smtp_user": False,
    "smtp_pass": False, "from_filter": domain.name, "sequence": 0, "active": True,
}
server = env["ir.mail_server"].search([("name", "=", values["name"])], limit=1)
server.write(values) if server else server.create(values)
env["ir.config_parameter"].set_param("sms.endpoint", "http://127.0.0.1:$MAIL_WEB_PORT")
env["collection.demo.loader"]._load_demo()
# The mail and SMS queues every minute (an hour in production): what the demo
# sends shows in the catcher at once.
for xmlid in ("mail.ir_cron_mail_scheduler_action", "sms.ir_cron_sms_scheduler_action"):
    cron = env.ref(xmlid, raise_if_not_found=False)
    if cron:
        cron.write({"interval_number": 1, "interval_type": "minutes"})
        cron._trigger()
# What could not reach a mail server before (none, or the catcher stopped) goes now.
env["mail.mail"].search(
    [("state", "=", "exception"), ("failure_type", "in", (False, "mail_smtp"))]
).mark_outgoing()
env.cr.commit()
PY
}

cmd_run() {
    setup
    if ! psql -lqt | cut -d'|' -f1 | grep -qw "$DEMO_DB"; then
        say "Creating demo database $DEMO_DB (Odoo, the Chilean localization, the addon and its demo story: a few minutes)"
        # Without Odoo's generic demo data (nor l10n_cl's demo company): the demo
        # is the addon's Chilean company, loaded below with the Chilean chart.
        odoo -d "$DEMO_DB" -i "l10n_cl,payment_demo,$ADDON" --without-demo=all \
            --stop-after-init --log-level=warn
    elif [ "$(module_state "$ADDON")" != installed ]; then
        die "$DEMO_DB exists without $ADDON (an interrupted creation?): dropdb $DEMO_DB and run again"
    else
        say "Reusing demo database $DEMO_DB (updating the addon)"
        odoo -d "$DEMO_DB" -u "$ADDON" --stop-after-init --log-level=warn
    fi
    # The catcher first: loading the demo already sends mail.
    start_mail_catcher
    prepare_demo
    if [ -z "$(psql -d "$DEMO_DB" -tAc "SELECT 1 FROM ir_model_data WHERE module = '$ADDON' AND name = 'demo_user_collector'")" ]; then
        say "$DEMO_DB holds an older demo (no cobrador/jefe logins): dropdb $DEMO_DB to get the current one"
    fi
    say "Serving Odoo at http://localhost:$HTTP_PORT"
    say "  collector: cobrador / cobrador   manager: jefe / jefe   administrator: admin / admin"
    say "  customer portal: http://localhost:$HTTP_PORT/my as portal_cliente / portal_cliente"
    say "  every email and SMS sent: $MAIL_DIR (and http://localhost:$MAIL_WEB_PORT/)"
    "$PY" "$ODOO_PATH/odoo-bin" --addons-path="$ODOO_PATH/addons,$ROOT" \
        -d "$DEMO_DB" --db-filter="^$DEMO_DB\$" --http-port="$HTTP_PORT" "$@"
}

cmd_test() {
    setup
    cmd_lint
    local db="cp_test_$$" log
    log=$(mktemp -t collections_test.XXXXXX.log)
    say "Installing $ADDON in fresh database $db and running its tests (log: $log)"
    dropdb --if-exists "$db" 2>/dev/null || true
    set +e
    odoo -d "$db" -i "$ADDON,payment_demo" --without-demo=all --test-tags "/$ADDON" \
        --stop-after-init --http-port="$TEST_HTTP_PORT" --log-level=info \
        --max-cron-threads=0 --logfile="$log" "$@"
    local rc=$?
    set -e
    dropdb --if-exists "$db" 2>/dev/null || true
    "$PY" "$ROOT/.ci/summarize_log.py" "$log" "$rc"
}

cmd_pytest() {
    setup
    local db=${PYTEST_DB:-cp_pytest} conf="$ROOT/.pytest-odoo.conf" stamp
    # What the database's copy of the addon was installed from: all but the tests.
    stamp=$(cd "$ROOT" && find "$ADDON" -path "$ADDON/tests" -prune -o -type f \
        ! -name '*.py[co]' -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-12)
    if psql -lqt | cut -d'|' -f1 | grep -qw "$db" && {
        ! grep -qx "# addon: $stamp" "$conf" 2>/dev/null || ! grep -qx "db_name = $db" "$conf"
    }; then
        # Made afresh, not updated: an update keeps the shipped emails and SMS
        # as they were (noupdate), and the tests check the current ones.
        say "The addon changed since $db was made: dropping it"
        dropdb "$db"
    fi
    if ! psql -lqt | cut -d'|' -f1 | grep -qw "$db"; then
        say "Creating database $db with $ADDON for pytest-odoo"
        odoo -d "$db" -i "$ADDON,payment_demo" --without-demo=all --stop-after-init \
            --log-level=warn --max-cron-threads=0
    elif [ "$(DEMO_DB=$db module_state "$ADDON")" != installed ]; then
        die "$db exists without $ADDON (an interrupted creation?): dropdb $db and run again"
    fi
    # The Odoo configuration pytest-odoo reads (conftest.py points ODOO_RC at it).
    cat > "$conf" <<CONF
# Written by ./dev.sh pytest: the database pytest-odoo tests and Odoo's addons path.
# addon: $stamp
[options]
db_name = $db
addons_path = $ODOO_PATH/addons,$ROOT
max_cron_threads = 0
CONF
    say "pytest-odoo on $db"
    local rc=0
    # Odoo is not installed in the virtualenv: pytest-odoo imports it from the source.
    (cd "$ROOT" && PYTHONPATH="$ODOO_PATH${PYTHONPATH:+:$PYTHONPATH}" ODOO_RC=$conf \
        "$VENV/bin/pytest" "$@") || rc=$?
    # 5: pytest collected no test.
    [ "$rc" -ne 5 ] || die "pytest ran no test"
    return "$rc"
}

cmd_i18n() {
    setup
    local db="cp_i18n_$$" pot="$ROOT/$ADDON/i18n/$ADDON.pot"
    say "Exporting $pot from a scratch database"
    odoo -d "$db" -i "$ADDON" --without-demo=all --stop-after-init --log-level=warn
    odoo -d "$db" --i18n-export="$pot" --modules="$ADDON" --stop-after-init --log-level=warn
    dropdb --if-exists "$db"
    say "Merging the template into $ADDON/i18n/es.po (new entries stay untranslated)"
    "$PY" - "$pot" "$ROOT/$ADDON/i18n/es.po" <<'PY'
import os, sys
import polib
pot, po_path = polib.pofile(sys.argv[1]), sys.argv[2]
po = polib.pofile(po_path) if os.path.exists(po_path) else polib.POFile()
po.metadata = {**pot.metadata, **po.metadata, "Language": "es"}
po.merge(pot)
po.obsolete_entries() and [po.remove(e) for e in po.obsolete_entries()]
po.save(po_path)
print(f"{len(po.untranslated_entries())} untranslated, {len(po.translated_entries())} translated")
PY
}

cmd_odoo_tests() {
    setup
    local tags="post_install/account,post_install/account_payment,post_install/sms"
    tags="$tags,post_install/portal,post_install/mail" modules="$ADDON,payment_demo"
    while [ $# -gt 0 ]; do
        case "$1" in
            # The quick part CI runs: the payment and portal flows the addon
            # extends, and SMS.
            --fast) tags="post_install/account_payment,post_install/portal,post_install/sms" ;;
            --baseline) modules="account_payment,sms,portal,mail,payment_demo" ;;
            *) break ;;
        esac
        shift
    done
    local db="cp_core_$$" log start=$SECONDS
    log=$(mktemp -t collections_core.XXXXXX.log)
    say "Odoo's tests ($tags) with $modules in $db (log: $log)"
    dropdb --if-exists "$db" 2>/dev/null || true
    odoo -d "$db" -i "$modules" --without-demo=all --stop-after-init --log-level=warn
    set +e
    odoo -d "$db" --test-tags "$tags" --stop-after-init --http-port="$TEST_HTTP_PORT" \
        --log-level=info --max-cron-threads=0 --logfile="$log" "$@"
    local rc=$?
    set -e
    dropdb --if-exists "$db" 2>/dev/null || true
    # Odoo's own tests log expected warnings: their verdict is the test report.
    grep -E " (FAIL|ERROR): " "$log" | sed 's/^.* \(FAIL\|ERROR\): /  \1: /' | sort -u || true
    local report
    report=$(grep -Eo "[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests" "$log" | tail -1)
    say "${report:-no test report} in $((SECONDS - start)) s"
    [ "$rc" -eq 0 ] && [ -n "$report" ]
}

case "${1:-}" in
    run) shift; cmd_run "$@" ;;
    test)
        shift
        # ./dev.sh test --pytest [args]: the same tests under pytest-odoo.
        if [ "${1:-}" = --pytest ]; then shift; cmd_pytest "$@"; else cmd_test "$@"; fi ;;
    pytest) shift; cmd_pytest "$@" ;;
    lint) shift; cmd_lint ;;
    i18n) shift; cmd_i18n ;;
    odoo-tests) shift; cmd_odoo_tests "$@" ;;
    setup) shift; setup ;;
    *) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 2 ;;
esac
