// PLACEHOLDER (owned by the "actions" helper): "Backfill in progress" on a DAG's page, with
// pause / unpause / cancel of the active backfills (nothing when there is none).
export function BackfillBanner({ dagId }: { dagId: string }) {
  void dagId;
  return null;
}
