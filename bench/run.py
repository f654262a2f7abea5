"""`make bench`: the large-organisation figures on SQLite and on PostgreSQL.

Each database gets a fresh instance, then each bench (bench/people_bench.py,
bench/reviews_bench.py) runs against it in its own process (settings are per process). Figures
are printed, never asserted. `bench/run.py reviews` runs only the benches named.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "bastion_bench"
BENCHES = ["people", "reviews", "awareness"]


def fresh_postgres() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{PG_DB}"


def fresh_sqlite() -> str:
    path = ROOT / "var" / "bench" / "bench.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def main() -> int:
    benches = sys.argv[1:] or BENCHES
    unknown = set(benches) - set(BENCHES)
    if unknown:
        print(f"unknown bench: {', '.join(sorted(unknown))} (choose from {', '.join(BENCHES)})")
        return 2
    targets = [("SQLite", fresh_sqlite)]
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
