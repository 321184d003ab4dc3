import { useCallback, useEffect, useRef, useState } from "react";

import { ApiError, signOut, whoAmI, type SessionInfo } from "./api";
import { Library } from "./pages/Library";
import { SearchPage } from "./pages/Search";
import { SignIn } from "./pages/SignIn";
import { VideoPage } from "./pages/Video";
import { Link, navigate, useLocation } from "./router";
import { UploadsProvider } from "./uploads";

type Auth = { state: "checking" } | { state: "out"; message?: string } | { state: "in"; session: SessionInfo };

const TITLES: Record<string, string> = { "/": "Library", "/search": "Search", "/upload": "Upload" };

export function App() {
  const location = useLocation();
  const [auth, setAuth] = useState<Auth>({ state: "checking" });
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    whoAmI()
      .then((session) => setAuth({ state: "in", session }))
      .catch(() => setAuth({ state: "out" }));
  }, []);

  // a 401 anywhere (expired or revoked session) brings the sign-in form back
  const onUnauthorized = useCallback((error: unknown) => {
    if (error instanceof ApiError && error.status === 401) {
      setAuth({ state: "out", message: "Your session has ended. Sign in again." });
      return true;
    }
    return false;
  }, []);

  // move focus to the new page's heading, as a screen reader user expects after navigation
  useEffect(() => {
    const heading = main.current?.querySelector("h1");
    if (heading instanceof HTMLElement) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
    const page = location.path.startsWith("/v/") ? "Video" : (TITLES[location.path] ?? "Vystra");
    document.title = `${page} · Vystra`;
  }, [location.path, auth.state]);

  if (auth.state === "checking") return <p className="loading">Loading…</p>;
  if (auth.state === "out") {
    return (
      <main ref={main} id="main" className="signin-main">
        <SignIn message={auth.message} onSignedIn={(session) => setAuth({ state: "in", session })} />
      </main>
    );
  }

  const leave = async () => {
    await signOut().catch(() => undefined);
    setAuth({ state: "out", message: "You are signed out." });
    navigate("/", { replace: true });
  };

  let page;
  const video = /^\/v\/([A-Za-z0-9-]+)$/.exec(location.path);
  if (video?.[1]) {
    const t = Number(location.params.get("t"));
    page = <VideoPage id={video[1]} start={Number.isFinite(t) && t > 0 ? t : 0} onUnauthorized={onUnauthorized} />;
  } else if (location.path === "/search") {
    page = <SearchPage params={location.params} onUnauthorized={onUnauthorized} />;
  } else {
    page = <Library onUnauthorized={onUnauthorized} />;
  }
  const current = (path: string) => (location.path === path ? "page" : undefined);

  return (
    <UploadsProvider onUnauthorized={onUnauthorized}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand" aria-label="Vystra home">
          <svg viewBox="0 0 32 32" width="24" height="24" aria-hidden="true">
            <rect width="32" height="32" rx="6" fill="currentColor" />
            <path d="M12 9v14l11-7z" fill="var(--bg)" />
          </svg>
          Vystra
        </Link>
        <nav aria-label="Main">
          <Link href="/" aria-current={current("/")}>
            Library
          </Link>
          <Link href="/search" aria-current={current("/search")}>
            Search
          </Link>
        </nav>
        <div className="who">
          <span>
            <span className="visually-hidden">Signed in as </span>
            {auth.session.tenant}
          </span>
          <button type="button" className="quiet" onClick={leave}>
            Sign out
          </button>
        </div>
      </header>
      <main ref={main} id="main">
        {page}
      </main>
    </UploadsProvider>
  );
}
