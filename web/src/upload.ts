// Upload a file with the API's presigned flow: POST /v1/uploads gives one PUT URL (local mode,
// small files on S3) or one URL per part (S3 multipart); the bytes go straight to the store,
// with progress, and each part is retried on its own; then POST .../complete checks the object.

import { api, ApiError, type UploadTarget } from "./api";

const RETRIES = 3;
const PARALLEL_PARTS = 3;

const TYPES: Record<string, string> = {
  mp4: "video/mp4", m4v: "video/mp4", mov: "video/quicktime", webm: "video/webm",
  mkv: "video/x-matroska", avi: "video/x-msvideo", mpg: "video/mpeg", mpeg: "video/mpeg",
  ogv: "video/ogg", "3gp": "video/3gpp", flv: "video/x-flv", mp3: "audio/mpeg", m4a: "audio/mp4",
  aac: "audio/aac", wav: "audio/wav", ogg: "audio/ogg", oga: "audio/ogg", flac: "audio/flac",
  opus: "audio/ogg",
};

/** The type to declare: the browser's, else one from the extension (some report none for .mkv). */
export function contentType(file: File): string {
  if (file.type) return file.type;
  const ext = file.name.split(".").pop()?.toLowerCase() ?? "";
  return TYPES[ext] ?? "application/octet-stream";
}

/** A message for people, naming the file, for each way an upload is refused. */
export function explain(name: string, error: unknown, size?: number): string {
  if (!(error instanceof ApiError)) return `${name}: ${error instanceof Error ? error.message : String(error)}`;
  switch (error.status) {
    case 415:
      return `${name} is not a video or audio file, so it was not uploaded. Choose a video or audio file (MP4, MOV, WebM, MKV, MP3, WAV…).`;
    case 413:
      return `${name} is too large${size ? ` (${(size / 1024 ** 3).toFixed(2)} GB)` : ""}: ${error.message}`;
    case 402:
      return `${name} was not ingested: your plan's limit is reached. ${error.message}`;
    case 503:
      return `${name}: the server is busy (${error.message}). Try again in a minute.`;
    default:
      return `${name}: ${error.message}`;
  }
}

function put(
  url: string,
  body: Blob,
  headers: Record<string, string>,
  onProgress: (loaded: number) => void,
  signal: AbortSignal,
): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(body.size);
        resolve(xhr.getResponseHeader("ETag"));
        return;
      }
      let message = `the store answered ${xhr.status}`;
      let reason = `HTTP${xhr.status}`;
      try {
        const parsed = JSON.parse(xhr.responseText) as { error?: string; message?: string };
        message = parsed.message ?? message;
        reason = parsed.error ?? reason;
      } catch {
        // S3 answers XML
      }
      reject(new ApiError(xhr.status, reason, message));
    };
    xhr.onerror = () => reject(new ApiError(0, "NetworkError", "the connection was lost during the upload"));
    xhr.onabort = () => reject(new ApiError(0, "Aborted", "the upload was cancelled"));
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

/** Network errors and 5xx are worth another try; a 4xx will not change. */
async function withRetry<T>(attempt: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (let n = 1; ; n += 1) {
    try {
      return await attempt();
    } catch (error) {
      const retriable = error instanceof ApiError && (error.status === 0 || error.status >= 500);
      if (!retriable || n >= RETRIES || signal.aborted) throw error;
      await new Promise((done) => setTimeout(done, 500 * 2 ** n));
    }
  }
}

/** Uploads ``file``; returns the upload id once the API has checked the object. */
export async function uploadFile(
  file: File,
  onProgress: (sent: number) => void,
  signal: AbortSignal,
): Promise<string> {
  if (file.size === 0) throw new Error("the file is empty");
  const target = await api<UploadTarget>("/v1/uploads", {
    method: "POST",
    json: { filename: file.name.slice(0, 255), size_bytes: file.size, content_type: contentType(file) },
  });
  if (target.url) {
    const url = target.url;
    await withRetry(() => put(url, file, target.headers, onProgress, signal), signal);
    await api(`/v1/uploads/${target.id}/complete`, { method: "POST" });
    return target.id;
  }
  // multipart: a few parts at a time, each retried alone; progress is the sum of all parts
  const loaded = new Map<number, number>();
  const report = () => onProgress([...loaded.values()].reduce((a, b) => a + b, 0));
  const etags: { number: number; etag: string }[] = [];
  const queue = [...target.parts];
  let offset = 0;
  const offsets = new Map<number, number>();
  for (const part of target.parts) {
    offsets.set(part.number, offset);
    offset += part.size_bytes;
  }
  const worker = async () => {
    for (let part = queue.shift(); part; part = queue.shift()) {
      const start = offsets.get(part.number) ?? 0;
      const blob = file.slice(start, start + part.size_bytes);
      const current = part;
      const etag = await withRetry(
        () =>
          put(current.url, blob, {}, (n) => {
            loaded.set(current.number, n);
            report();
          }, signal),
        signal,
      );
      if (!etag) throw new Error("the object store did not return an ETag (its CORS rules must expose ETag)");
      etags.push({ number: current.number, etag });
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, queue.length) }, worker));
  etags.sort((a, b) => a.number - b.number);
  await api(`/v1/uploads/${target.id}/complete`, { method: "POST", json: { parts: etags } });
  return target.id;
}
