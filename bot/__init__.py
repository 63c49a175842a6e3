"""Bussola: the dialogue engine, channels and the ASGI app."""
