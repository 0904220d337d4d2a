"""gunicorn settings for test servers: none, so ./gunicorn.conf.py (production) is not read.

Tests pass every option they need on the command line.
"""
