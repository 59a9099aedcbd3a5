"""Stage 5: leaderboards compiled from result files, the published rows, submission files."""
