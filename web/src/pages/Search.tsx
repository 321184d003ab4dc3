import { useEffect, useMemo, useState, type FormEvent, type ReactNode } from "react";

import { listVideos, search, thumbnailUrl, type Mode, type Moment, type Video } from "../api";
import { clock, queryTerms, spokenClock } from "../format";
import { Link, navigate } from "../router";

const MAX_VIDEO_FILTERS = 100; // the API's limit on video_id filters

const MODES: { value: Mode; label: string }[] = [
  { value: "hybrid", label: "Hybrid (meaning and words)" },
  { value: "semantic", label: "Semantic (meaning)" },
  { value: "keyword", label: "Keyword (exact words)" },
];

/** Marks the words of ``text`` that share a stem with a query term. */
export function highlight(text: string, query: string): ReactNode[] {
  const stems = queryTerms(query).map((t) => (t.length > 5 ? t.slice(0, Math.max(4, t.length - 3)) : t));
  if (!stems.length) return [text];
  return text.split(/([\p{L}\p{N}]+)/u).map((part, i) => {
    const word = part.toLowerCase();
    return i % 2 === 1 && stems.some((s) => word.startsWith(s)) ? <mark key={i}>{part}</mark> : part;
  });
}

function group(results: Moment[]): { videoId: string; title: string; moments: Moment[] }[] {
  const groups = new Map<string, { videoId: string; title: string; moments: Moment[] }>();
  for (const m of results) {
    const found = groups.get(m.video_id) ?? { videoId: m.video_id, title: m.title, moments: [] };
    found.moments.push(m);
    groups.set(m.video_id, found);
  }
  return [...groups.values()]; // in the order of each video's best moment
}

export function SearchPage({
  params,
  onUnauthorized,
}: {
  params: URLSearchParams;
  onUnauthorized: (error: unknown) => boolean;
}) {
  const q = params.get("q") ?? "";
  const mode = (params.get("mode") as Mode | null) ?? "hybrid";
  const video = params.get("video") ?? "";
  const lang = params.get("lang") ?? "";
  const [draft, setDraft] = useState({ q, mode, video, lang });
  const [videos, setVideos] = useState<Video[]>([]);
  const [results, setResults] = useState<Moment[] | null>(null);
  const [status, setStatus] = useState("");
  const [error, setError] = useState<string | null>(null);

  useEffect(() => setDraft({ q, mode, video, lang }), [q, mode, video, lang]);

  useEffect(() => {
    listVideos(null, 200)
      .then((page) => setVideos(page.items))
      .catch((err: unknown) => onUnauthorized(err));
  }, [onUnauthorized]);

  const languages = useMemo(
    () => [...new Set(videos.map((v) => v.language).filter((l): l is string => !!l))].sort(),
    [videos],
  );

  useEffect(() => {
    if (!q.trim()) {
      setResults(null);
      return;
    }
    // a language filter is the set of videos in that language
    let ids = video ? [video] : [];
    if (!video && lang) ids = videos.filter((v) => v.language === lang).map((v) => v.id);
    if (!video && lang && !ids.length) {
      if (videos.length) setResults([]);
      return;
    }
    // the API takes up to 100 video ids: past that, a wider search filtered here
    let keep: ((m: Moment) => boolean) | null = null;
    if (ids.length > MAX_VIDEO_FILTERS) {
      const wanted = new Set(ids);
      keep = (m) => wanted.has(m.video_id);
      ids = [];
    }
    let live = true;
    setStatus("Searching…");
    setError(null);
    search(q, mode, ids, keep ? 200 : 20)
      .then((found) => {
        if (!live) return;
        const results = keep ? found.results.filter(keep).slice(0, 20) : found.results;
        setResults(results);
        const n = results.length;
        setStatus(n ? `${n} moment${n === 1 ? "" : "s"} found.` : "No moments found.");
      })
      .catch((err: unknown) => {
        if (!live || onUnauthorized(err)) return;
        setError((err as Error).message);
        setStatus("");
      });
    return () => {
      live = false;
    };
  }, [q, mode, video, lang, videos, onUnauthorized]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams({ q: draft.q.trim(), mode: draft.mode });
    if (draft.video) next.set("video", draft.video);
    if (draft.lang) next.set("lang", draft.lang);
    navigate(`/search?${next.toString()}`);
  };

  return (
    <>
      <h1>Search</h1>
      <form role="search" className="card search-form" onSubmit={submit}>
        <div className="query">
          <label htmlFor="q">Find a moment</label>
          <div className="row">
            <input
              id="q"
              type="search"
              value={draft.q}
              placeholder="e.g. how do volcanoes form"
              maxLength={1000}
              onChange={(e) => setDraft({ ...draft, q: e.target.value })}
            />
            <button type="submit" disabled={!draft.q.trim()}>
              Search
            </button>
          </div>
        </div>
        <div className="filters">
          <div>
            <label htmlFor="mode">Mode</label>
            <select id="mode" value={draft.mode} onChange={(e) => setDraft({ ...draft, mode: e.target.value as Mode })}>
              {MODES.map((m) => (
                <option key={m.value} value={m.value}>
                  {m.label}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="video-filter">Video</label>
            <select id="video-filter" value={draft.video} onChange={(e) => setDraft({ ...draft, video: e.target.value })}>
              <option value="">All videos</option>
              {videos.map((v) => (
                <option key={v.id} value={v.id}>
                  {v.title}
                </option>
              ))}
            </select>
          </div>
          {languages.length > 0 && (
            <div>
              <label htmlFor="lang-filter">Language</label>
              <select id="lang-filter" value={draft.lang} onChange={(e) => setDraft({ ...draft, lang: e.target.value })}>
                <option value="">Any language</option>
                {languages.map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
            </div>
          )}
        </div>
      </form>
      <p role="status" className="notice">
        {status}
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {results && (
        <div className="results">
          {group(results).map((g) => (
            <section key={g.videoId} className="card result-group" aria-labelledby={`r-${g.videoId}`}>
              <h2 id={`r-${g.videoId}`}>
                <Link href={`/v/${g.videoId}`}>{g.title}</Link>
              </h2>
              <ol className="moments">
                {g.moments.map((m) => (
                  <li key={`${m.start}-${m.end}`}>
                    <Link
                      className="moment"
                      href={`/v/${m.video_id}?t=${m.start.toFixed(1)}`}
                      onClick={() => performance.mark("vystra:press")}
                    >
                      {m.thumbnail_url && (
                        <img className="thumb" src={thumbnailUrl(m.thumbnail_url)} alt="" loading="lazy" width={96} />
                      )}
                      <span className="visually-hidden">Play from {spokenClock(m.start)}: </span>
                      <span className="time" aria-hidden="true">
                        ▶ {clock(m.start)}
                      </span>
                      {m.modality === "screen" && <span className="shown">On screen</span>}
                      <span className="text">{highlight(m.text, q)}</span>
                    </Link>
                  </li>
                ))}
              </ol>
            </section>
          ))}
        </div>
      )}
    </>
  );
}
