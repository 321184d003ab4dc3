import { useEffect, useMemo, useRef, useState } from "react";

import { getVideo, subtitlesUrl, type TranscriptLine, type VideoDetail } from "../api";
import { clock, spokenClock } from "../format";
import { Link } from "../router";

/** Index of the line being spoken at ``t``: the last one that has started. */
function activeLine(lines: TranscriptLine[], t: number): number {
  let lo = 0;
  let hi = lines.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((lines[mid]?.start ?? 0) <= t + 0.05) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

export function VideoPage({
  id,
  start,
  onUnauthorized,
}: {
  id: string;
  start: number;
  onUnauthorized: (error: unknown) => boolean;
}) {
  const [video, setVideo] = useState<VideoDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [time, setTime] = useState(start);
  const [copied, setCopied] = useState("");
  const player = useRef<HTMLVideoElement>(null);
  const transcriptBox = useRef<HTMLOListElement>(null);

  useEffect(() => {
    let live = true;
    setVideo(null);
    getVideo(id)
      .then((found) => live && setVideo(found))
      .catch((err: unknown) => {
        if (live && !onUnauthorized(err)) setError((err as Error).message);
      });
    return () => {
      live = false;
    };
  }, [id, onUnauthorized]);

  // the heading appears once the video has loaded: move focus there, as on other pages
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus({ preventScroll: true });
  }, [video?.id]);

  // open at the moment asked for (?t=), then play; a press on a search result is measured
  useEffect(() => {
    const el = player.current;
    if (!el || !video?.media_url) return;
    const go = () => {
      el.currentTime = start;
      setTime(start);
      el.play().catch(() => undefined); // a browser may want a gesture first: the controls remain
    };
    const playing = () => {
      if (performance.getEntriesByName("vystra:press", "mark").length) {
        performance.measure("vystra:press-to-play", "vystra:press");
        performance.clearMarks("vystra:press");
      }
    };
    el.addEventListener("playing", playing);
    if (el.readyState >= HTMLMediaElement.HAVE_METADATA) go();
    else el.addEventListener("loadedmetadata", go, { once: true });
    return () => {
      el.removeEventListener("loadedmetadata", go);
      el.removeEventListener("playing", playing);
    };
  }, [video, start]);

  const lines = video?.transcript ?? [];
  const active = useMemo(() => activeLine(lines, time), [lines, time]);

  // keep the spoken line in view inside the transcript box (not the whole page)
  useEffect(() => {
    const box = transcriptBox.current;
    const item = box?.children[active] as HTMLElement | undefined;
    if (!box || !item) return;
    const top = item.offsetTop - box.offsetTop;
    if (top < box.scrollTop || top + item.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    }
  }, [active]);

  const seek = (t: number) => {
    const el = player.current;
    if (!el) return;
    el.currentTime = t;
    setTime(t);
    el.play().catch(() => undefined);
  };

  if (error) {
    return (
      <>
        <h1>Video not available</h1>
        <p className="error" role="alert">
          {error}
        </p>
        <Link href="/">Back to the library</Link>
      </>
    );
  }
  if (!video) return <p className="loading">Loading the video…</p>;

  const share = `${window.location.origin}/v/${video.id}?t=${Math.floor(time)}`;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(share);
      setCopied("Link copied.");
    } catch {
      setCopied("Select the link and copy it.");
    }
  };
  const insights = video.insights;

  return (
    <article className="video-page">
      <h1 ref={heading} tabIndex={-1}>
        {video.title}
      </h1>
      <p className="meta">
        {clock(video.duration_s)} · {video.language ?? "language unknown"} · {video.segments} segments
        {video.status !== "ready" && <span className={`badge ${video.status}`}>{video.status}</span>}
      </p>
      <div className="video-layout">
        <div className="player-col">
          {video.media_url ? (
            <video
              ref={player}
              src={video.media_url}
              controls
              preload="metadata"
              playsInline
              onTimeUpdate={(e) => setTime(e.currentTarget.currentTime)}
              onSeeked={(e) => setTime(e.currentTarget.currentTime)}
              aria-label={`Video: ${video.title}`}
            >
              <track kind="captions" src={subtitlesUrl(video.id, "vtt")} srcLang={video.language ?? "en"} label="Transcript" />
            </video>
          ) : (
            <p className="notice">This video's source cannot be played from here.</p>
          )}
          <div className="share">
            <label htmlFor="share-link">Link to this moment ({clock(time)})</label>
            <div className="row">
              <input id="share-link" readOnly value={share} onFocus={(e) => e.currentTarget.select()} />
              <button type="button" onClick={copy}>
                Copy link
              </button>
            </div>
            <p role="status" className="small">
              {copied}
            </p>
          </div>
          <p className="downloads">
            Subtitles:{" "}
            <a href={subtitlesUrl(video.id, "srt")} download>
              SRT
            </a>{" "}
            ·{" "}
            <a href={subtitlesUrl(video.id, "vtt")} download>
              WebVTT
            </a>
          </p>
          {!insights && (video.insights_status === "pending" || video.insights_status === "generating") && (
            <p role="status">Insights are being written; reload in a moment.</p>
          )}
          {insights && (
            <section aria-labelledby="insights-heading" className="insights">
              <h2 id="insights-heading">Insights</h2>
              {insights.summary && <p>{insights.summary}</p>}
              {!!insights.keywords?.length && (
                <>
                  <h3>Keywords</h3>
                  <ul className="keywords">
                    {insights.keywords.map((k) => (
                      <li key={k}>{k}</li>
                    ))}
                  </ul>
                </>
              )}
              {!!insights.chapters?.length && (
                <>
                  <h3>Chapters</h3>
                  <ol className="chapters">
                    {insights.chapters.map((c) => (
                      <li key={c.start}>
                        <button type="button" className="link" onClick={() => seek(c.start)}>
                          <span className="visually-hidden">Play from {spokenClock(c.start)}: </span>
                          <span className="time" aria-hidden="true">
                            {clock(c.start)}
                          </span>{" "}
                          {c.title}
                        </button>
                      </li>
                    ))}
                  </ol>
                </>
              )}
            </section>
          )}
        </div>
        <section aria-labelledby="transcript-heading" className="transcript-col">
          <h2 id="transcript-heading">Transcript</h2>
          {lines.length === 0 ? (
            <p>No transcript yet.</p>
          ) : (
            <ol className="transcript" ref={transcriptBox}>
              {lines.map((line, i) => (
                <li key={`${line.start}-${i}`} aria-current={i === active ? "true" : undefined} className={i === active ? "active" : undefined}>
                  <button type="button" className="line" onClick={() => seek(line.start)} data-start={line.start} data-end={line.end}>
                    <span className="visually-hidden">Play from {spokenClock(line.start)}: </span>
                    <span className="time" aria-hidden="true">
                      {clock(line.start)}
                    </span>
                    <span>{line.text}</span>
                  </button>
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>
    </article>
  );
}
