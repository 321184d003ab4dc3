/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Origin of the API when the app is hosted elsewhere (then list this app in VYSTRA_CORS_ORIGINS). */
  readonly VITE_VYSTRA_API?: string;
}
