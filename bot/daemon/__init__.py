"""`thisday run`: APScheduler alarms, catch-up, live reload, the lock, systemd notify, health."""
