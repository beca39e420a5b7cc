"""The HTTP API: routes, request/response shapes, auth, error mapping, streaming. Torch-free."""
