"""The embedded model bundles, installed as the `radlabel_models` package.

The default bundle ships inside the distribution (package data), so `radlabel label` and the
service find it from any working directory and from a non-editable wheel install; the labeler
resolves it with `importlib.resources`, never from the current directory.
"""
