"""An Airflow-3-style DAG with setup and teardown tasks, ``@task.bash`` and ``@task.virtualenv``.

Written with Airflow's imports (``airflow.sdk``): ``create_cluster`` is a setup, ``delete_cluster``
its teardown (it runs even when the work fails, and its own failure would not fail the run);
the tasks created inside ``with create >> delete:`` are the work between them.
"""

from airflow.sdk import DAG, setup, task, teardown, timezone

with DAG(
    "airflow_setup_teardown",
    schedule=None,
    start_date=timezone.datetime(2024, 1, 1),
    doc_md="Setup/teardown example: a cluster made and removed around the work.",
    owner_links={"airflow": "https://airflow.apache.org"},
    tags=["example", "airflow-compat"],
) as dag:

    @setup
    def create_cluster() -> str:
        return "cluster-1"

    @teardown
    def delete_cluster(name: str) -> None:
        print(f"deleting {name}")

    @task.bash
    def greet(name: str) -> str:
        return f"echo working on {name} for {{{{ ds }}}}"

    @task.virtualenv(requirements=["pendulum"], system_site_packages=True)
    def compute(n: int) -> int:
        import pendulum  # imported inside: the function runs in its own interpreter

        return n * 2 + pendulum.datetime(2024, 1, 1).year * 0

    cluster = create_cluster()
    with cluster >> delete_cluster(cluster):
        greet(cluster) >> compute(21)
