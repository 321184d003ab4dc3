"""Vystra's REST API: uploads, ingests, videos and search, for one machine or a cluster."""
