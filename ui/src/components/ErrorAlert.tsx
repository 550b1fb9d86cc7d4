/** An API or validation error shown to the user, with the server's own words. */
export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const text = error instanceof Error ? error.message : String(error);
  return (
    <div role="alert" className="error-alert">
      {title ? <strong>{title}: </strong> : null}
      {text}
    </div>
  );
}
