import { useState, type DragEvent, type FormEvent } from "react";

import { clock } from "../format";
import { Link } from "../router";
import { useUploads, type Task } from "../uploads";

export function UploadForm() {
  const { addFiles, addUrl } = useUploads();
  const [over, setOver] = useState(false);
  const [url, setUrl] = useState("");

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    const files = [...event.dataTransfer.files];
    if (files.length) addFiles(files);
  };
  const submitUrl = (event: FormEvent) => {
    event.preventDefault();
    if (url.trim()) addUrl(url.trim());
    setUrl("");
  };

  return (
    <section aria-labelledby="upload-heading" className="card upload">
      <h2 id="upload-heading">Add videos</h2>
      <div
        className={`dropzone${over ? " over" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <input
          id="files"
          type="file"
          multiple
          accept="video/*,audio/*"
          className="visually-hidden"
          onChange={(e) => {
            addFiles([...(e.target.files ?? [])]);
            e.target.value = "";
          }}
        />
        <label htmlFor="files" className="button">
          Choose files
        </label>
        <span> or drop video and audio files here</span>
      </div>
      <form className="url-form" onSubmit={submitUrl}>
        <label htmlFor="source-url">Or ingest from a URL</label>
        <div className="row">
          <input
            id="source-url"
            type="url"
            inputMode="url"
            placeholder="https://example.org/talk.mp4"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
          <button type="submit" disabled={!url.trim()}>
            Ingest URL
          </button>
        </div>
      </form>
    </section>
  );
}

function label(task: Task): string {
  const ingest = task.ingest;
  switch (task.stage) {
    case "uploading":
      return "Uploading";
    case "starting":
      return "Starting the ingest";
    case "failed":
      return "Failed";
    case "done":
      return ingest?.reason === "AlreadyIngested" ? "Done: already in the library" : "Done";
    default:
      if (!ingest) return "Ingesting";
      return ingest.phase === "Running" ? `Running${ingest.stage ? `: ${ingest.stage}` : ""}` : ingest.phase;
  }
}

function percent(task: Task): number {
  if (task.stage === "uploading") return task.size ? (100 * task.sent) / task.size : 0;
  if (task.stage === "done") return 100;
  return task.ingest?.progress.percent ?? 0;
}

function TaskItem({ task }: { task: Task }) {
  const { dismiss } = useUploads();
  const value = Math.round(percent(task));
  const shown = task.segments.slice(-4);
  const videoId = task.ingest?.video_id;
  return (
    <li className={`task ${task.stage}`} data-stage={task.stage}>
      <div className="task-head">
        <strong className="task-name">{task.name}</strong>
        <span className="task-status" role="status">
          {label(task)}
        </span>
      </div>
      {task.stage !== "failed" && (
        <div className="bar">
          <progress max={100} value={value} aria-label={`${task.name}: ${label(task)}`} />
          <span aria-hidden="true">{value}%</span>
        </div>
      )}
      {task.ingest && task.stage !== "uploading" && (
        <p className="small">
          <span data-testid="segment-count">{task.segments.length}</span> segments indexed
          {task.ingest.progress.duration_seconds > 0 &&
            ` · ${clock(task.ingest.progress.processed_seconds)} of ${clock(task.ingest.progress.duration_seconds)}`}
        </p>
      )}
      {shown.length > 0 && (
        <ul className="segments" aria-label={`Latest segments of ${task.name}`}>
          {shown.map((s) => (
            <li key={s.ordinal} className="segment">
              <span className="time">{clock(s.start)}</span> {s.text}
            </li>
          ))}
        </ul>
      )}
      {task.error && (
        <p className="error" role="alert">
          {task.error}
        </p>
      )}
      <div className="task-actions">
        {task.stage === "done" && videoId && <Link href={`/v/${videoId}`}>Open video</Link>}
        {(task.stage === "done" || task.stage === "failed") && (
          <button type="button" className="quiet" onClick={() => dismiss(task.key)}>
            Dismiss<span className="visually-hidden"> {task.name}</span>
          </button>
        )}
      </div>
    </li>
  );
}

export function Tasks() {
  const { tasks } = useUploads();
  if (!tasks.length) return null;
  return (
    <section aria-labelledby="tasks-heading">
      <h2 id="tasks-heading">Uploads</h2>
      <ul className="tasks">
        {tasks.map((task) => (
          <TaskItem key={task.key} task={task} />
        ))}
      </ul>
    </section>
  );
}
