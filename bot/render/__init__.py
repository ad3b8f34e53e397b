"""Events → `Thread`s: the sandboxed Jinja2 environment, template lookup with per-platform
overrides and the package's default templates (defaults/), and each account's limits."""
