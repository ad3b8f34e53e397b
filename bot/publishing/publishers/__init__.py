"""One publisher per platform behind the small protocol in `base`."""
