"""The operator's commands: check, preview (and its HTML page), calendar, status, doctor,
new/import."""
