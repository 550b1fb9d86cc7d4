// PLACEHOLDER (owned by the "actions" helper): the backfill form with its dry-run preview and
// the DAG's backfills with progress, pause, unpause and cancel, at /dags/:dagId/backfills.
export function BackfillsPage({ dagId }: { dagId: string }) {
  return <h2>Backfills of {dagId}</h2>;
}
