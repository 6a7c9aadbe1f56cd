"""custodes: guards the guards. Detects insiders and ex-insiders draining customer data,
and scopes a breach exactly when one happens."""

__version__ = "0.1.0"
