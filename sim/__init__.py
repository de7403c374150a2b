"""The RDS crash simulator (see sim/README and ``python -m sim --help``)."""
