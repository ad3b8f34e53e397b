"""thisday: posts "This Day In History" threads to Mastodon and Bluesky, exactly once a day."""

__version__ = "0.1.0"
