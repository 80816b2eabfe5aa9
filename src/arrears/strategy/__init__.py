"""The strategy engine: strategy files, segments, champion/challenger arms and the day's actions."""
