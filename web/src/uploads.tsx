// Uploads and ingests in progress, kept above the pages so they go on while the user searches.
// Each ingest is followed over Server-Sent Events (the session cookie authenticates them).

import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from "react";

import { api, eventsUrl, type Ingest, type Segment } from "./api";
import { explain, uploadFile } from "./upload";

export type TaskStage = "uploading" | "starting" | "ingesting" | "done" | "failed";

export interface Task {
  key: string;
  name: string;
  size: number | null;
  stage: TaskStage;
  sent: number;
  error: string | null;
  ingest: Ingest | null;
  segments: Segment[];
}

interface Uploads {
  tasks: Task[];
  /** Bumped when an ingest ends: the library reloads. */
  version: number;
  addFiles: (files: File[]) => void;
  addUrl: (url: string) => void;
  watch: (ingest: Ingest) => void;
  dismiss: (key: string) => void;
}

const Context = createContext<Uploads | null>(null);

export function useUploads(): Uploads {
  const value = useContext(Context);
  if (!value) throw new Error("useUploads outside UploadsProvider");
  return value;
}

const finished = (ingest: Ingest) => ingest.phase === "Succeeded" || ingest.phase === "Failed";

export function UploadsProvider({
  children,
  onUnauthorized,
}: {
  children: ReactNode;
  onUnauthorized: (error: unknown) => boolean;
}) {
  const [tasks, setTasks] = useState<Task[]>([]);
  const [version, setVersion] = useState(0);
  const streams = useRef(new Map<string, EventSource>());
  const counter = useRef(0);

  const update = useCallback((key: string, change: (task: Task) => Partial<Task>) => {
    setTasks((all) => all.map((t) => (t.key === key ? { ...t, ...change(t) } : t)));
  }, []);

  const follow = useCallback(
    (key: string, ingest: Ingest) => {
      update(key, () => ({ stage: finished(ingest) ? (ingest.phase === "Failed" ? "failed" : "done") : "ingesting", ingest }));
      if (finished(ingest) || streams.current.has(key)) return;
      const source = new EventSource(eventsUrl(ingest.id), { withCredentials: true });
      streams.current.set(key, source);
      source.addEventListener("progress", (event) => {
        const data = JSON.parse((event as MessageEvent<string>).data) as Ingest;
        update(key, () => ({ ingest: data }));
      });
      source.addEventListener("segment", (event) => {
        const segment = JSON.parse((event as MessageEvent<string>).data) as Segment;
        update(key, (t) => ({ segments: [...t.segments, segment] }));
      });
      source.addEventListener("end", (event) => {
        source.close();
        streams.current.delete(key);
        const data = JSON.parse((event as MessageEvent<string>).data) as Ingest & { deleted?: boolean };
        if (data.deleted) {
          update(key, () => ({ stage: "failed", error: "the ingest was deleted" }));
        } else {
          const failed = data.phase === "Failed";
          update(key, () => ({
            ingest: data,
            stage: failed ? "failed" : "done",
            error: failed ? `${data.reason ?? "Failed"}: ${data.message ?? "the ingest failed"}` : null,
          }));
        }
        setVersion((v) => v + 1);
      });
      source.onerror = () => {
        // EventSource reconnects by itself; once it gives up, tell the user what is known
        if (source.readyState === EventSource.CLOSED) {
          streams.current.delete(key);
          update(key, () => ({ error: "lost the live progress stream; reload the page to follow it" }));
        }
      };
    },
    [update],
  );

  useEffect(() => {
    const open = streams.current;
    return () => {
      for (const source of open.values()) source.close();
      open.clear();
    };
  }, []);

  const add = useCallback((name: string, size: number | null): string => {
    counter.current += 1;
    const key = `task-${counter.current}`;
    const task: Task = { key, name, size, stage: "uploading", sent: 0, error: null, ingest: null, segments: [] };
    setTasks((all) => [task, ...all]);
    return key;
  }, []);

  const start = useCallback(
    async (key: string, body: Record<string, unknown>) => {
      update(key, () => ({ stage: "starting" }));
      const ingest = await api<Ingest>("/v1/ingests", { method: "POST", json: body });
      follow(key, ingest);
    },
    [follow, update],
  );

  const fail = useCallback(
    (key: string, name: string, error: unknown, size?: number) => {
      if (onUnauthorized(error)) return;
      update(key, () => ({ stage: "failed", error: explain(name, error, size) }));
    },
    [onUnauthorized, update],
  );

  const addFiles = useCallback(
    (files: File[]) => {
      for (const file of files) {
        const key = add(file.name, file.size);
        const title = file.name.replace(/\.[^.]+$/, "") || file.name;
        const abort = new AbortController();
        uploadFile(file, (sent) => update(key, () => ({ sent })), abort.signal)
          .then((uploadId) => start(key, { upload_id: uploadId, title }))
          .catch((error: unknown) => fail(key, file.name, error, file.size));
      }
    },
    [add, fail, start, update],
  );

  const addUrl = useCallback(
    (url: string) => {
      const key = add(url, null);
      start(key, { url }).catch((error: unknown) => fail(key, url, error));
    },
    [add, fail, start],
  );

  const watch = useCallback(
    (ingest: Ingest) => {
      setTasks((all) => {
        if (all.some((t) => t.ingest?.id === ingest.id)) return all;
        counter.current += 1;
        const key = `task-${counter.current}`;
        queueMicrotask(() => follow(key, ingest));
        const name = ingest.spec.title ?? ingest.id;
        return [...all, { key, name, size: null, stage: "ingesting", sent: 0, error: null, ingest, segments: [] }];
      });
    },
    [follow],
  );

  const dismiss = useCallback((key: string) => {
    streams.current.get(key)?.close();
    streams.current.delete(key);
    setTasks((all) => all.filter((t) => t.key !== key));
  }, []);

  return (
    <Context.Provider value={{ tasks, version, addFiles, addUrl, watch, dismiss }}>{children}</Context.Provider>
  );
}
