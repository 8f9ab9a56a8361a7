"""StackWarden: continuous security scanning, monitoring and auditing for DevOps."""

__version__ = "0.1.0"
