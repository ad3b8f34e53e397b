"""Publishing a day exactly once: the pipeline plans every part in the ledger, then sends each
through its platform's publisher (`publishers/`) and records the result."""
