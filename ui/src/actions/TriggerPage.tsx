// PLACEHOLDER (owned by the "actions" helper): the trigger form, at /dags/:dagId/trigger.
export function TriggerPage({ dagId }: { dagId: string }) {
  return <h2>Trigger {dagId}</h2>;
}
