"""Plans run on the served small world (a snapshot, a champion and its scores store)."""
