pytest_plugins = ["loopback.fixtures"]
