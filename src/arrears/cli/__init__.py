"""The ``arrears`` command line: parse, call a service, render. No business rules live here."""
