"""``dagcore dags reserialize`` (and a ``dag-processor`` pass, the same code) reports a DAG file
that caught its failed imports and so defines no DAG (issue 14): a warning line naming the file and
the missing module, beside the import errors; the file is not an import error (Airflow stays
silent about it: airflow/models/dagbag.py records only raised exceptions)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from cli_helpers import CLIHome

from dagcore.db import migrate
from dagcore.models import tables as t

SKIPPING = """\
try:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow import DAG

    with DAG("k8s_example", schedule=None):
        KubernetesPodOperator(task_id="pod")
except ImportError:
    pass
"""

GOOD = """\
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("good", schedule=None):
    EmptyOperator(task_id="a")
"""


def test_reserialize_prints_the_warning_and_stores_no_import_error(cli_home: CLIHome,
                                                                   cli_db: sa.Engine) -> None:
    folder = cli_home.write_dags({"k8s.py": SKIPPING, "good.py": GOOD})
    migrate(cli_db)
    result = cli_home.run("dags", "reserialize", "-S", str(folder))
    assert result.returncode == 0, result.stderr
    assert "DAGs written: 1, versions created: 1, import errors: 0" in result.stdout
    warnings = [line for line in result.stdout.splitlines() if "warning:" in line]
    assert len(warnings) == 1
    assert "k8s.py defines no DAG" in warnings[0]
    assert "No module named 'airflow.providers.cncf'" in warnings[0]
    with cli_db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.import_error)).scalar() == 0
    listed = cli_home.run("dags", "list-import-errors", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "[]"
    # ... but `dags list-warnings` lists it, as list-import-errors lists failing files, until
    # the file defines a DAG again.
    warned = cli_home.run("dags", "list-warnings", "-o", "json")
    assert warned.returncode == 0, warned.stderr
    (row,) = json.loads(warned.stdout)
    assert row["filename"] == "k8s.py" and "airflow.providers.cncf" in row["message"]
    (folder / "k8s.py").write_text(GOOD.replace("good", "fixed"))
    again = cli_home.run("dags", "reserialize", "-S", str(folder))
    assert again.returncode == 0, again.stderr
    cleared = cli_home.run("dags", "list-warnings", "-o", "json")
    assert cleared.stdout.strip() == "[]"
