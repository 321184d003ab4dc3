// The REST API as the app uses it. The session is an HttpOnly cookie set by POST /v1/session:
// the API key never stays in the page, and EventSource and <track> send the cookie too.

export const API_BASE: string = import.meta.env.VITE_VYSTRA_API ?? "";

export interface ErrorBody {
  error: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SessionInfo {
  tenant: string;
  expires_at: string;
}

export interface Video {
  id: string;
  title: string;
  status: "processing" | "ready" | "failed";
  duration_s: number | null;
  segments: number;
  language: string | null;
  error_reason: string | null;
  error: string | null;
  created_at: string;
}

export interface TranscriptLine {
  start: number;
  end: number;
  text: string;
}

export interface Chapter {
  start: number;
  end: number;
  title: string;
  summary?: string;
}

export interface Insights {
  summary?: string;
  keywords?: string[];
  topics?: string[];
  chapters?: Chapter[];
}

export interface VideoDetail extends Video {
  media_url: string | null;
  insights: Insights | null;
  insights_status: string | null;
  transcript: TranscriptLine[];
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Progress {
  processed_seconds: number;
  duration_seconds: number;
  segments: number;
  percent: number;
}

export type Phase = "Pending" | "Queued" | "Running" | "Succeeded" | "Failed";

export interface Ingest {
  id: string;
  phase: Phase;
  reason: string | null;
  message: string | null;
  video_id: string | null;
  stage: string | null;
  progress: Progress;
  spec: { title: string | null };
  created_at: string | null;
}

export interface Segment {
  ordinal: number;
  start: number;
  end: number;
  text: string;
}

export interface Moment {
  video_id: string;
  title: string;
  start: number;
  end: number;
  text: string;
  score: number;
  /** speech: what is said; screen: text shown on a slide or caption. */
  modality: "speech" | "screen";
  /** The keyframe on screen at `start` (JPEG), when the video has keyframes. */
  thumbnail_url: string | null;
}

export type Mode = "hybrid" | "semantic" | "keyword";

export interface SearchResults {
  query: string;
  mode: Mode;
  results: Moment[];
}

export interface PartTarget {
  number: number;
  url: string;
  size_bytes: number;
}

export interface UploadTarget {
  id: string;
  url: string | null;
  headers: Record<string, string>;
  part_size: number | null;
  parts: PartTarget[];
}

async function failure(response: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> = {};
  try {
    body = (await response.json()) as Partial<ErrorBody>;
  } catch {
    // not JSON: a proxy's page, say
  }
  return new ApiError(
    response.status,
    body.error ?? `HTTP${response.status}`,
    body.message ?? `the server answered ${response.status} ${response.statusText}`,
  );
}

/** Calls the API with the session cookie; throws ApiError with the API's own message. */
export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set("X-Vystra-CSRF", "1");
  if (json !== undefined) headers.set("Content-Type", "application/json");
  let response: Response;
  try {
    response = await fetch(API_BASE + path, {
      ...rest,
      headers,
      body: json !== undefined ? JSON.stringify(json) : rest.body,
      credentials: API_BASE ? "include" : "same-origin",
    });
  } catch {
    throw new ApiError(0, "NetworkError", "the Vystra server cannot be reached; check that it is running");
  }
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const signIn = (apiKey: string) =>
  api<SessionInfo>("/v1/session", { method: "POST", json: { api_key: apiKey } });
export const whoAmI = () => api<SessionInfo>("/v1/session");
export const signOut = () => api<void>("/v1/session", { method: "DELETE" });

export const listVideos = (cursor: string | null, limit = 20) =>
  api<Page<Video>>(`/v1/videos?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
export const getVideo = (id: string) => api<VideoDetail>(`/v1/videos/${encodeURIComponent(id)}`);
export const deleteVideo = (id: string) =>
  api<void>(`/v1/videos/${encodeURIComponent(id)}`, { method: "DELETE" });
export const listIngests = () => api<Page<Ingest>>("/v1/ingests?limit=50");

export function search(q: string, mode: Mode, videoIds: string[], limit = 20): Promise<SearchResults> {
  const params = new URLSearchParams({ q, mode, limit: String(limit) });
  for (const id of videoIds) params.append("video_id", id);
  return api<SearchResults>(`/v1/search?${params.toString()}`);
}

export const eventsUrl = (ingestId: string) =>
  `${API_BASE}/v1/ingests/${encodeURIComponent(ingestId)}/events`;
export const subtitlesUrl = (videoId: string, fmt: "srt" | "vtt") =>
  `${API_BASE}/v1/videos/${encodeURIComponent(videoId)}/subtitles.${fmt}`;

export const thumbnailUrl = (path: string): string => `${API_BASE}${path}`;
