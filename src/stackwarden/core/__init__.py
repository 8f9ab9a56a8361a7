"""Models, errors and configuration shared by every layer of StackWarden."""
