// PLACEHOLDER (owned by the "views" helper): one DAG's pages.
import { useParams } from "react-router";

export function DagPage() {
  const { dagId } = useParams();
  return <h1>{dagId}</h1>;
}
