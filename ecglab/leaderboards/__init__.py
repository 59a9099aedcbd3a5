"""Stage 5: leaderboards compiled from result files, the published rows, submission files.

The rooms, in the order of their imports: ``errors``; ``tables`` (the columns and the ``Leaderboard``
record) and ``formatting`` (how values read); ``identifiers`` and ``submission`` (schema and check of
submission files), ``run_folders`` (finding run folders, the configuration key) and ``submission_export``;
``validation`` (the checks of run folders' results), ``inputs`` (run folders and submissions as results,
refusals), ``comparability``, ``task_info``, ``resamples``, ``scoring``, ``comparisons``, ``curves``;
``published`` (the published tables) and ``published_rows``; ``render_markdown``, ``html_tables``,
``html_figures``, ``render_html``; and ``board``, which assembles the leaderboard and writes it out.
"""
