"""The read/act API for internal services and agents (`/api/sentry/...`) and its MCP server."""
