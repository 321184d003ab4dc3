import { useCallback, useEffect, useState } from "react";

import { deleteVideo, listIngests, listVideos, type Video } from "../api";
import { clock, date } from "../format";
import { Link } from "../router";
import { useUploads } from "../uploads";
import { Tasks, UploadForm } from "./Upload";

const PAGE = 20;

export function Library({ onUnauthorized }: { onUnauthorized: (error: unknown) => boolean }) {
  const { version, watch } = useUploads();
  const [cursors, setCursors] = useState<(string | null)[]>([null]); // one per page seen
  const [page, setPage] = useState<{ items: Video[]; next: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const cursor = cursors[cursors.length - 1] ?? null;

  const load = useCallback(() => {
    listVideos(cursor, PAGE)
      .then((found) => {
        setPage({ items: found.items, next: found.next_cursor });
        setError(null);
      })
      .catch((err: unknown) => {
        if (!onUnauthorized(err)) setError((err as Error).message);
      });
  }, [cursor, onUnauthorized]);

  useEffect(load, [load, version]);

  // ingests already running (started elsewhere, or before a reload) are followed live too
  useEffect(() => {
    listIngests()
      .then((found) => {
        for (const ingest of found.items) {
          if (ingest.phase !== "Succeeded" && ingest.phase !== "Failed") watch(ingest);
        }
      })
      .catch(() => undefined);
  }, [watch]);

  const remove = async (video: Video) => {
    try {
      await deleteVideo(video.id);
      setNotice(`Deleted “${video.title}”.`);
      setConfirming(null);
      load();
    } catch (err) {
      if (!onUnauthorized(err)) setError(`Could not delete “${video.title}”: ${(err as Error).message}`);
    }
  };

  return (
    <>
      <h1>Library</h1>
      <UploadForm />
      <Tasks />
      <section aria-labelledby="videos-heading">
        <h2 id="videos-heading">Videos</h2>
        <p role="status" className="notice">
          {notice}
        </p>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {page && page.items.length === 0 && cursors.length === 1 && (
          <p>No videos yet. Upload one above, or ingest one from a URL.</p>
        )}
        {page && page.items.length > 0 && (
          <table className="videos">
            <thead>
              <tr>
                <th scope="col">Title</th>
                <th scope="col">Duration</th>
                <th scope="col">Status</th>
                <th scope="col">Language</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((video) => (
                <tr key={video.id} data-video-id={video.id}>
                  <td data-label="Title">
                    <Link href={`/v/${video.id}`}>{video.title}</Link>
                    {video.status === "failed" && video.error && <div className="error small">{video.error}</div>}
                  </td>
                  <td data-label="Duration">{clock(video.duration_s)}</td>
                  <td data-label="Status">
                    <span className={`badge ${video.status}`}>{video.status}</span>
                  </td>
                  <td data-label="Language">{video.language ?? "–"}</td>
                  <td data-label="Created">{date(video.created_at)}</td>
                  <td className="actions">
                    {confirming === video.id ? (
                      <>
                        <button type="button" className="danger" onClick={() => remove(video)}>
                          Confirm delete<span className="visually-hidden"> of {video.title}</span>
                        </button>
                        <button type="button" className="quiet" onClick={() => setConfirming(null)}>
                          Cancel
                        </button>
                      </>
                    ) : (
                      <button type="button" className="quiet" onClick={() => setConfirming(video.id)}>
                        Delete<span className="visually-hidden"> {video.title}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {(cursors.length > 1 || page?.next) && (
          <nav className="pager" aria-label="Video pages">
            <button type="button" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
              Newer
            </button>
            <span>Page {cursors.length}</span>
            <button
              type="button"
              disabled={!page?.next}
              onClick={() => page?.next && setCursors((c) => [...c, page.next])}
            >
              Older
            </button>
          </nav>
        )}
      </section>
    </>
  );
}
