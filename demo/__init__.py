"""The demo: the whole loop on this machine against the local sandbox (`make demo`).

Not part of the product: `stack` starts the processes, `browser` drives the web app's forms as
a person would, `run` is the walk-through `make demo` and `make demo-headless` print.
"""
