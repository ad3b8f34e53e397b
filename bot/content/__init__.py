"""Post files → validated `Event`s: front matter and parsing (`post`), images, the scan of the
posts folder, the corpus index, and which events a local date gets (`selection`)."""
