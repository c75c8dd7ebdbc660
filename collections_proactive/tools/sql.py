import functools
from contextlib import contextmanager


@contextmanager
def without_jit(cr):
    """Run a block of set-based queries without PostgreSQL's JIT compiler.

    Their plans read every open receivable line of a company with a few
    subqueries each, and PostgreSQL estimates them at millions of cost units:
    over ``jit_above_cost``, it compiles them to machine code first, which
    takes longer than running them (the case sync's figures on 67,000 open
    lines: 8.5 s with JIT, 7.5 s of it compiling, 1.2 s without; the risk run
    of 200,000 invoices: 62 s with JIT, 34 s without). For this transaction
    only; the setting before the block (the server's, or an enclosing block's)
    is back after it."""
    cr.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
    before = cr.fetchone()[0]
    yield
    # Not after an error: the transaction may be aborted (no query runs then),
    # and rolling it back, or back to a savepoint, undoes the setting anyway.
    cr.execute("SELECT set_config('jit', %s, true)", [before])


def no_jit(method):
    """Decorate a model method to run it ``without_jit``."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with without_jit(self.env.cr):
            return method(self, *args, **kwargs)

    return wrapper
