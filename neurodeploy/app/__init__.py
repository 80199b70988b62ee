"""The application: the public API, the CLI and its commands, the pipeline stages, the
encoding study, parity between backends, reports and the Ray glue. It may import every
layer below it; nothing below imports it.
"""
