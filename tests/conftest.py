import os

from hypothesis import settings

pytest_plugins = ["loopback.fixtures"]

# On CI the property tests draw the same examples every run, so a red build is reproducible
# and never a coin toss; developers' runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
