"""Sub-commands of the ``specfit`` CLI, one module each (``register(subparsers)``)."""
