"""Log inspection: read log sources, decode lines into events, run Sigma rules over them."""
