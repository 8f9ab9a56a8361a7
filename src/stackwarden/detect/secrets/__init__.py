"""Secret detection: rules as data, one Hyperscan pass per file, Python `re` confirmation."""
