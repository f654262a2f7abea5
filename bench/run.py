"""`make bench`: the large-organisation figures on SQLite and on PostgreSQL.

Each database gets a fresh instance, then each bench (bench/people_bench.py,
bench/reviews_bench.py, bench/awareness_bench.py) runs against it in its own process (settings
are per process). Figures are printed, never asserted. `bench/run.py reviews` runs only the
benches named (bench/phishing_bench.py: sending to an SMTP sink, tracking hits, results API;
BENCH_RECIPIENTS sizes its campaign, default 20,000). The awareness bench builds ~1,000,000
assignments: allow ten minutes per database.

BENCH_REUSE=1 keeps a database built by an earlier run (the SQLite file, the PostgreSQL
database) instead of starting afresh; the awareness bench then skips building its data and the
runs that change it, and times the pages only. BENCH_DB=sqlite or postgres benches one database;
BENCH_PG_DB and BENCH_SQLITE name the databases (default bastion_bench and var/bench/bench.sqlite3).
bench/incidents_bench.py builds 10,000 incidents with 500,000 timeline entries (about a minute)
and times the incident pages and API and the 2,000-entry incident's dossier.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("BENCH_PG_DB", "bastion_bench")  # one per person benching at once
REUSE = os.environ.get("BENCH_REUSE") == "1"
BENCHES = ["people", "reviews", "awareness", "phishing", "incidents"]


def fresh_postgres() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DB]).fetchone()
        if not (REUSE and exists):
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DB}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{PG_DB}"


def fresh_sqlite() -> str:
    path = ROOT / "var" / "bench" / f"{os.environ.get('BENCH_SQLITE', 'bench')}.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    if REUSE and path.exists():
        return f"sqlite:///{path}"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def main() -> int:
    benches = sys.argv[1:] or BENCHES
    unknown = set(benches) - set(BENCHES)
    if unknown:
        print(f"unknown bench: {', '.join(sorted(unknown))} (choose from {', '.join(BENCHES)})")
        return 2
    only = os.environ.get("BENCH_DB", "")
    targets = [] if only == "postgres" else [("SQLite", fresh_sqlite)]
    if only != "sqlite":
        try:
            targets.append(("PostgreSQL", fresh_postgres))
            fresh_postgres()
        except Exception as exc:  # noqa: BLE001
            print(f"PostgreSQL not reachable ({exc}); benchmarking SQLite only")
            targets.pop()
    status = 0
    for name, make_db in targets:
        url = make_db()
        print(f"\n=== {name} ===", flush=True)
        env = {**os.environ, "DATABASE_URL": url, "BASTION_VAR_DIR": str(ROOT / "var" / "bench")}
        subprocess.run([sys.executable, "-m", "bastion", "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)
        for bench in benches:
            result = subprocess.run([sys.executable, str(ROOT / "bench" / f"{bench}_bench.py")], env=env, cwd=ROOT)
            status = status or result.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
