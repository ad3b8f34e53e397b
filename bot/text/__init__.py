"""Pure text rules, a leaf package: grapheme and URL-aware counting per platform, splitting that
never cuts a word, URL or cluster, and Bluesky facets."""
