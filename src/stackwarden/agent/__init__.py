"""The host agent: collectors (FIM, inventory, logs) that watch a running host."""
