from contextlib import contextmanager


@contextmanager
def without_jit(cr):
    """Run a block of set-based queries without PostgreSQL's JIT compiler.

    Their plans read every open receivable line of a company with a few
    subqueries each, and PostgreSQL estimates them at millions of cost units:
    over ``jit_above_cost``, it compiles them to machine code first, which
    takes longer than running them (the case sync's figures on 67,000 open
    lines: 8.5 s with JIT, 7.5 s of it compiling, 1.2 s without). For this
    transaction only; the server's setting is back after the block."""
    cr.execute("SET LOCAL jit = off")
    try:
        yield
    finally:
        cr.execute("SET LOCAL jit TO DEFAULT")
