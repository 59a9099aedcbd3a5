"""Stage 4: train, evaluate and track pairings; suites, hyperparameter searches and the command line."""
