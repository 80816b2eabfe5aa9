"""Work allocation: collectors and teams, ordered queues, assignment, and agency placements."""
