"""Code that runs INSIDE the sandbox (stdlib and numpy only; never imported by the worker)."""
