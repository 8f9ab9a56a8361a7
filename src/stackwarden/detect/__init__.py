"""Detectors read file contents and yield findings: secrets, malware, misconfigurations, licenses."""
