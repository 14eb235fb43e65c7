import { describeCounts, describeTotals, parseChanges } from './changes-summary';
import { CHANGES_JSON } from './artifact-paths';

/** `changes.json`: the files the agent changed, each with its status and line counts. */
export function ChangesSummary({ json }: { readonly json: string }) {
  const files = parseChanges(json);
  if (files === null) return <p className="error">{CHANGES_JSON} is not a list of changed files.</p>;
  return (
    <div className="changes-summary">
      <p>{describeTotals(files)}</p>
      {files.length > 0 && (
        <ul aria-label="Changed files">
          {files.map((file) => (
            <li key={file.path}>
              <span className={`change-status change-${file.status}`}>{file.status}</span>
              <code>{file.path}</code>
              <span className="change-counts">{describeCounts(file)}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
