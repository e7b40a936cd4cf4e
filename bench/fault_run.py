"""Faults during a send, by hand: run one scenario of tests/reliability/fault_harness.py, or all
five, each on a 5,000-recipient campaign with its own private Redis, PostgreSQL and SMTP server,
and print the counts (recipients, delivered unique, lost, duplicates, in flight at the fault,
all final, seconds).

    .venv/bin/python bench/fault_run.py all
    .venv/bin/python bench/fault_run.py smtp-drops [--recipients 5000] [--json] [--keep]
    .venv/bin/python bench/fault_run.py postgres-crash     # the extra: an immediate shutdown

`all` migrates and seeds one template cluster first and starts each scenario from a copy of it;
a single scenario makes its own unless given one (`template --template DIR`, then
`--template DIR`).

It needs redis-server and PostgreSQL's server binaries (/usr/lib/postgresql/<version>/bin), not
running services: it starts its own on free ports and removes them afterwards. The module's
docstring says what each scenario does and how "in flight" is counted.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.fault_harness import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
