"""Sub-commands of the ``ecglab`` CLI; each module offers ``add_parser(subparsers)``."""
