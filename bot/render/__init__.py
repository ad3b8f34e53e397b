"""Events → `Thread`s: the sandboxed Jinja2 environment, template lookup with per-platform
overrides, and each account's limits."""
