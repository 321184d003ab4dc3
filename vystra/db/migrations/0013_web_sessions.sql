-- The web app's session cookies are signed with one key that every API replica shares, made
-- by the first one to need it (VYSTRA_SESSION_SIGNING_KEY, when set, is used instead).
-- Numbered after issue #13, which added it: migrations are independent and applied in order.
CREATE TABLE web_session_keys (
    id smallint PRIMARY KEY CHECK (id = 1),
    secret text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
