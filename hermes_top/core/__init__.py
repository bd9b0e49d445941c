"""The reaping core: discovery, classification, FD accounting, safe signalling.

It never imports textual (tests/test_import_hygiene.py checks), so the CLI,
cron jobs and other programs can use it cheaply.
"""
