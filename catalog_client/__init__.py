"""The catalogue of services: HSDS 3.0 data, the read-only HSDS API, the client and the matcher."""
