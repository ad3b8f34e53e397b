pytest_plugins = ["loopback"]
