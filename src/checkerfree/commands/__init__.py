"""One module per command-line verb; each has ``register(subparsers)`` and ``run(args)``."""
