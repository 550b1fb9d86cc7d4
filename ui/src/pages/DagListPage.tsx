// PLACEHOLDER (owned by the "views" helper): the DAG list page.
export function DagListPage() {
  return <h1>DAGs</h1>;
}
