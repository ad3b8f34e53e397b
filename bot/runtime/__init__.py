"""What the daemon and the operator's tools both need to know about a running service: the
one lock per state folder, and the pure schedule arithmetic (slots, catch-up window, next
run). Neither package imports the other; both import this."""
